/// The machine-readable error codes of the socket API (DESIGN §3).
public enum ErrorCode: String, Codable, Sendable, CaseIterable {
    /// No credential is configured or stored for the profile asked for.
    case missingAPIKey = "missing_api_key"
    /// The profile needs a (new) interactive login.
    case loginRequired = "login_required"
    /// The profile named is not in the configuration.
    case unknownProfile = "unknown_profile"
    /// The token endpoint cannot be reached and no valid token is left.
    case tokenEndpointUnavailable = "token_endpoint_unavailable"
    /// The request is malformed, or asks for something the daemon does not do.
    case invalidRequest = "invalid_request"
    /// The caller may not do this.
    case forbidden = "forbidden"
    /// The configuration file is invalid.
    case invalidConfig = "invalid_config"
    /// No such endpoint.
    case notFound = "not_found"
    /// The request or one of its parts is larger than the daemon accepts.
    case payloadTooLarge = "payload_too_large"
    /// The daemon is at its connection limit.
    case busy = "busy"
    /// Something failed inside the daemon; its log says what.
    case internalError = "internal_error"
}

/// The JSON body of every error answer: `{"error":{"code","message","profile"?}}`.
public struct ErrorEnvelope: Codable, Sendable, Equatable {
    /// The error inside the envelope.
    public struct Detail: Codable, Sendable, Equatable {
        /// The machine-readable code.
        public var code: ErrorCode
        /// A sentence for people: what happened and what to do next. Never holds a secret.
        public var message: String
        /// The profile concerned, when there is one.
        public var profile: String?

        /// Creates an error detail.
        public init(code: ErrorCode, message: String, profile: String? = nil) {
            self.code = code
            self.message = message
            self.profile = profile
        }
    }

    /// The error.
    public var error: Detail

    /// Wraps an error detail.
    public init(_ error: Detail) {
        self.error = error
    }
}
