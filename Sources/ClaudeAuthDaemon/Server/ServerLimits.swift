import NIOCore

/// Bounds on what one client may make the daemon hold (DESIGN §9).
struct ServerLimits: Sendable {
    /// Connections served at once; more are closed at once.
    var maximumConnections = 1024
    /// Headers in one request.
    var maximumHeaderCount = 64
    /// Bytes of the request target.
    var maximumTargetLength = 4096
    /// Bytes of one request's body.
    var maximumBodySize = APIRouter.maximumBodySize
    /// Time for the next request to arrive in full, from connect or from the previous response.
    var requestTimeout = TimeAmount.seconds(10)
}
