import CProcessControl

#if canImport(Glibc)
import Glibc
#endif

/// Keeps the daemon's memory and files to itself: no core dumps, no ptrace by the user's other
/// processes, and files created private.
enum ProcessHardening {
    /// Applies the hardening; returns the steps that failed, for the log.
    static func apply() -> [String] {
        var failures: [String] = []
        umask(0o077)
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        if setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) != 0 { failures.append("RLIMIT_CORE=0") }
        if cprocess_disable_dumping() != 0 { failures.append("PR_SET_DUMPABLE=0") }
        return failures
    }
}
