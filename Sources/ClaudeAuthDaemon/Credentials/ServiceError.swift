import ClaudeAuthAPI
import ClaudeAuthCore
import NIOHTTP1

/// An error answered over the socket: a code, a sentence without secrets, and the HTTP status.
struct ServiceError: Error, Sendable, Equatable {
    var code: ErrorCode
    var message: String
    var profile: String?

    var status: HTTPResponseStatus {
        switch code {
        case .unknownProfile, .notFound, .missingAPIKey: .notFound
        case .loginRequired: .unauthorized
        case .forbidden: .forbidden
        case .invalidRequest, .invalidConfig: .badRequest
        case .payloadTooLarge: .payloadTooLarge
        case .tokenEndpointUnavailable, .busy: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    var envelope: ErrorEnvelope {
        ErrorEnvelope(.init(code: code, message: message, profile: profile))
    }

    static func invalidRequest(_ message: String) -> ServiceError {
        ServiceError(code: .invalidRequest, message: message)
    }

    init(code: ErrorCode, message: String, profile: String? = nil) {
        self.code = code
        self.message = message
        self.profile = profile
    }

    init(_ problem: CredentialProblem, profile: String) {
        self.init(code: problem.code, message: problem.message, profile: profile)
    }
}
