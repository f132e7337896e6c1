import ClaudeAuthAPI

/// A failure the client reports: a message for stderr and a sysexits status (DESIGN §4).
public struct ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The process exit status.
    public var exitCode: Int32
    /// What happened and what to do next.
    public var message: String
    /// The daemon's error code, when the daemon answered with one.
    public var code: ErrorCode?

    /// Creates a client error.
    public init(exitCode: Int32, message: String, code: ErrorCode? = nil) {
        self.exitCode = exitCode
        self.message = message
        self.code = code
    }

    /// The message.
    public var description: String { message }

    /// 64: the command was used wrongly.
    public static func usage(_ message: String) -> ClientError { ClientError(exitCode: 64, message: message) }

    /// 69: the daemon cannot be reached.
    public static func unreachable(_ path: String, reason: String) -> ClientError {
        ClientError(
            exitCode: 69,
            message: "cannot reach claude-authd at \(path): \(reason); start it with "
                + "`systemctl --user start claude-authd.socket` (or run `claude-authd` by hand), then `claude-auth doctor`")
    }

    /// The error the daemon answered, with the exit status its code calls for.
    public init(_ detail: ErrorEnvelope.Detail) {
        self.init(exitCode: Self.exitCode(for: detail.code), message: detail.message, code: detail.code)
    }

    /// The sysexits status for a socket API error code.
    public static func exitCode(for code: ErrorCode) -> Int32 {
        switch code {
        case .missingAPIKey, .loginRequired, .forbidden: 77
        case .tokenEndpointUnavailable, .busy: 75
        case .unknownProfile, .invalidConfig: 78
        case .invalidRequest, .notFound, .payloadTooLarge: 64
        case .internalError: 70
        }
    }
}
