#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AsyncHTTPClient
import ClaudeAuthAPI
import NIOHTTP1
import NIOSSL

/// An answer the proxy gives itself, in the API's own error shape (`{"type":"error","error":{…}}`), so SDKs show
/// its message as they show the API's.
struct ProxyError: Error, Sendable {
    var status: HTTPResponseStatus
    /// The API's error type: `authentication_error`, `permission_error`, `api_error`, …
    var type: String
    var message: String

    /// The error for a credential that cannot be served.
    init(_ error: ServiceError) {
        switch error.code {
        case .loginRequired, .missingAPIKey, .unknownProfile:
            self.init(status: .unauthorized, type: "authentication_error", message: error.message)
        case .tokenEndpointUnavailable:
            self.init(status: .serviceUnavailable, type: "api_error", message: "no valid token: \(error.message)")
        case .forbidden:
            self.init(status: .forbidden, type: "permission_error", message: error.message)
        case .invalidRequest, .invalidConfig, .notFound:
            self.init(status: .badRequest, type: "invalid_request_error", message: error.message)
        case .payloadTooLarge:
            self.init(status: .payloadTooLarge, type: "request_too_large", message: error.message)
        case .busy, .internalError:
            self.init(status: .internalServerError, type: "api_error", message: error.message)
        }
    }

    init(status: HTTPResponseStatus, type: String, message: String) {
        self.status = status
        self.type = type
        self.message = message
    }

    /// The error for an upstream that gave no answer: 504 when it was late, else 502.
    static func upstream(_ error: any Error, origin: String, timeout: Int) -> ProxyError {
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout {
            return ProxyError(status: .gatewayTimeout, type: "api_error", message: "the upstream \(origin) did not answer within \(timeout) s")
        }
        if error is NIOSSLError || error is BoringSSLError {
            return ProxyError(
                status: .badGateway, type: "api_error",
                message: "the upstream \(origin) presented a certificate that is not trusted: set the profile's ca_file to its CA")
        }
        return ProxyError(status: .badGateway, type: "api_error", message: "cannot reach the upstream \(origin): \(error)")
    }

    /// The JSON body.
    var body: [UInt8] {
        let envelope = Envelope(type: "error", error: .init(type: type, message: message))
        return ((try? JSONEncoder.api().encode(envelope)).map(Array.init) ?? []) + [UInt8(ascii: "\n")]
    }

    private struct Envelope: Encodable {
        struct Detail: Encodable {
            var type: String
            var message: String
        }
        var type: String
        var error: Detail
    }
}
