import ClaudeAuthAPI
import NIOCore
import NIOHTTP1

/// Bounds on what one client may make the daemon hold (DESIGN §9).
struct ServerLimits: Sendable {
    /// Connections served at once; more are closed at once.
    var maximumConnections = 1024
    /// Connections a login's redirect listener serves at once: a browser needs one or two, and every local user
    /// can connect to it, so it must not spend the descriptors the socket API needs.
    var maximumCallbackConnections = 16
    /// Headers in one request.
    var maximumHeaderCount = 64
    /// Bytes of the request target.
    var maximumTargetLength = 4096
    /// Bytes of one request's body.
    var maximumBodySize = APIRouter.maximumBodySize
    /// Time for the next request to arrive in full, from connect or from the previous response.
    var requestTimeout = TimeAmount.seconds(10)

    /// Why a request head is refused before its body is read, if it is.
    func refusal(of head: HTTPRequestHead, bodyLimit: Int?) -> ServiceError? {
        if head.headers.count > maximumHeaderCount {
            return ServiceError(code: .payloadTooLarge, message: "the request has more than \(maximumHeaderCount) headers")
        }
        if head.uri.utf8.count > maximumTargetLength {
            return ServiceError(code: .payloadTooLarge, message: "the request target is longer than \(maximumTargetLength) bytes")
        }
        if let bodyLimit, let length = head.headers.first(name: "content-length").flatMap(Int.init), length > bodyLimit {
            return ServiceError(code: .payloadTooLarge, message: "the request body is larger than \(bodyLimit) bytes")
        }
        return nil
    }

    /// Descriptors kept out of every listener's reach, for the store, the token endpoint, the timer and the buses.
    static let reservedDescriptors = 128

    /// These limits, with the socket API's connections lowered where `openFiles` descriptors would not hold them
    /// beside the redirect listener and the reserve.
    func fitting(openFiles: Int) -> ServerLimits {
        var limits = self
        let available = openFiles - Self.reservedDescriptors - 2 * maximumCallbackConnections
        limits.maximumConnections = max(1, min(maximumConnections, available))
        return limits
    }
}
