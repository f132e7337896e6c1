import CProcessControl

#if canImport(Glibc)
import Glibc
#endif

/// Keeps the daemon's memory and files to itself (no core dumps, no ptrace by the user's other processes, files
/// created private), and makes room for its connection limit.
enum ProcessHardening {
    /// Applies the hardening; returns the steps that failed, for the log.
    static func apply() -> [String] {
        var failures: [String] = []
        umask(0o077)
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) != 0 { failures.append("RLIMIT_CORE=0") }
        if cprocess_disable_dumping() != 0 { failures.append("PR_SET_DUMPABLE=0") }
        // systemd's default soft limit of 1024 descriptors is below the connection limit: raise it within the hard one.
        var files = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < Self.descriptors {
            files.rlim_cur = min(files.rlim_max, Self.descriptors)
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) != 0 { failures.append("RLIMIT_NOFILE=\(files.rlim_cur)") }
        }
        return failures
    }

    /// The open files wanted: the connection limit and room for the store, the timer and the bus.
    static let descriptors = rlim_t(ServerLimits().maximumConnections + 64)
}
