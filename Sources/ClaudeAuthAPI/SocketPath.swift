/// Where the daemon's socket is: `--socket`, else `CLAUDE_AUTH_SOCKET`, else `$XDG_RUNTIME_DIR/claude-auth/socket`.
public enum SocketPath {
    /// The environment variable that overrides the socket path.
    public static let environmentVariable = "CLAUDE_AUTH_SOCKET"

    /// Why no socket path could be found.
    public struct Unresolved: Error, CustomStringConvertible {
        /// A sentence saying what to set.
        public var description: String {
            "XDG_RUNTIME_DIR is not set, so the socket path is unknown: pass --socket PATH or set CLAUDE_AUTH_SOCKET"
        }
    }

    /// Resolves the socket path from an explicit option and the environment.
    public static func resolve(explicit: String?, environment: [String: String]) throws(Unresolved) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let path = environment[environmentVariable], !path.isEmpty { return path }
        guard let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty else { throw Unresolved() }
        return runtime + "/claude-auth/socket"
    }
}

/// The daemon's version, served by `/v1/health` and printed by `--version`.
public let claudeAuthVersion = "0.1.0"
