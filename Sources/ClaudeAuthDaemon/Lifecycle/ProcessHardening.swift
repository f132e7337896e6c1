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
        // systemd's default soft limit of 1024 descriptors is below the connection limit: raise it to the hard one.
        var files = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < files.rlim_max {
            files.rlim_cur = files.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) != 0 { failures.append("RLIMIT_NOFILE=\(files.rlim_cur)") }
        }
        return failures
    }

    /// The soft limit on open descriptors, as raised by ``apply()``.
    static var openFileLimit: Int {
        var files = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &files) == 0 else { return 1024 }
        return Int(clamping: files.rlim_cur)
    }
}
