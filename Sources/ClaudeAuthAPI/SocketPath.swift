#if canImport(Glibc)
import Glibc
#endif

/// Where the daemon's socket is: `--socket`, else `CLAUDE_AUTH_SOCKET`, else `$XDG_RUNTIME_DIR/claude-auth/socket`;
/// without `XDG_RUNTIME_DIR` (a root shell, `su`, a container), `/run/user/UID/claude-auth/socket` when that
/// directory exists and is this user's, else `/tmp/claude-auth-UID/socket` in a directory that must be this user's
/// and 0700 (tmux's rule). Client and daemon resolve it alike.
public enum SocketPath {
    /// The environment variable that overrides the socket path.
    public static let environmentVariable = "CLAUDE_AUTH_SOCKET"

    /// Why no socket path could be used.
    public struct Unresolved: Error, CustomStringConvertible {
        /// A sentence saying what is wrong and what to set.
        public var description: String
    }

    /// A socket path and why it is the one.
    public struct Located: Sendable, Equatable {
        /// The socket's path.
        public var path: String
        /// Which rule chose it, for `doctor`.
        public var reason: String
        /// Whether it is the default place, whose directory the daemon makes private, rather than one named.
        public var isDefault: Bool
    }

    /// Resolves the socket path from an explicit option and the environment.
    public static func resolve(explicit: String?, environment: some EnvironmentVariables) throws(Unresolved) -> String {
        try locate(explicit: explicit, environment: environment).path
    }

    /// Resolves the socket path and says why; `uid`, `runUser` and `temporary` are this process's and the system's
    /// (`/run/user`, `/tmp`), given for tests.
    public static func locate(
        explicit: String?, environment: some EnvironmentVariables, uid: uid_t = geteuid(), runUser: String = "/run/user", temporary: String = "/tmp"
    ) throws(Unresolved) -> Located {
        if let explicit, !explicit.isEmpty { return Located(path: explicit, reason: "given with --socket", isDefault: false) }
        if let path = environment[environmentVariable], !path.isEmpty {
            return Located(path: path, reason: "from \(environmentVariable)", isDefault: false)
        }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return Located(path: runtime + "/claude-auth/socket", reason: "in $XDG_RUNTIME_DIR", isDefault: true)
        }
        let userRuntime = "\(runUser)/\(uid)"
        var info = stat()
        if lstat(userRuntime, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == uid {
            return Located(path: userRuntime + "/claude-auth/socket", reason: "XDG_RUNTIME_DIR is unset; \(userRuntime) is this user's", isDefault: true)
        }
        let fallback = "\(temporary)/claude-auth-\(uid)"
        if lstat(fallback, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == uid, info.st_mode & 0o7777 == 0o700 else {
                throw Unresolved(
                    description: "XDG_RUNTIME_DIR is unset and \(fallback) is not a 0700 directory of this user's: someone else may have made "
                        + "it; remove it, or set XDG_RUNTIME_DIR or CLAUDE_AUTH_SOCKET")
            }
        }
        return Located(
            path: fallback + "/socket", reason: "XDG_RUNTIME_DIR is unset and \(userRuntime) is not this user's: the fallback in \(temporary)",
            isDefault: true)
    }
}

/// The daemon's version, served by `/v1/health` and printed by `--version`.
public let claudeAuthVersion = "0.1.0"
