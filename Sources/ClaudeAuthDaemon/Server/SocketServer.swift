import ClaudeAuthAPI
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization
import SystemdSupport

#if canImport(Glibc)
import Glibc
#endif

/// The socket API server: one bootstrap, one async server channel, a task per connection.
///
/// Serves only peers with the daemon's own uid. Says `READY=1` once the socket is served, and `STOPPING=1`
/// when a graceful shutdown begins.
struct SocketServer: Service {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    let endpoint: SocketEndpoint
    let router: APIRouter
    let limits: ServerLimits
    let notifier: ServiceNotifier
    let status: @Sendable () -> String
    let logger: Logger

    func run() async throws {
        let server = try await bind()
        notifier.ready(status: status())
        logger.info("serving the socket API", metadata: ["event": "ready"])
        let active = ConnectionCount()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound.cancelOnGracefulShutdown() {
                        guard active.enter(limit: limits.maximumConnections) else {
                            logger.warning("connection limit reached, closing a new connection", metadata: ["event": "busy"])
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            defer { active.leave() }
                            await serve(connection)
                        }
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            notifier.stopping()
            logger.info("stopping", metadata: ["event": "stopping"])
        }
    }

    private func bind() async throws -> NIOAsyncChannel<Connection, Never> {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { [limits] channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                try channel.pipeline.syncOperations.addHandler(RequestTimeoutHandler(timeout: limits.requestTimeout))
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        switch endpoint {
        case .inherited(let fd):
            return try await bootstrap.bind(fd, childChannelInitializer: initializer)
        case .path(let path):
            let server = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
            guard chmod(path, 0o600) == 0 else {
                try? await server.channel.close()
                throw SocketEndpoint.Failure(description: "cannot make \(path) private: \(String(cString: strerror(errno)))")
            }
            return server
        }
    }

    private func serve(_ connection: Connection) async {
        do {
            let peer = try await PeerCredentials.of(connection.channel)
            guard peer.uid == geteuid() else {
                logger.warning(
                    "refused a connection from another user",
                    metadata: ["event": "peer_refused", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                try? await connection.channel.close()
                return
            }
            try await connection.executeThenClose { inbound, outbound in
                var pending: (head: HTTPRequestHead, body: [UInt8])?
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        if let refusal = refusal(of: head) {
                            try await write(.error(refusal), to: outbound, version: head.version, keepAlive: false)
                            return
                        }
                        pending = (head, [])
                    case .body(let chunk):
                        guard var request = pending else { continue }
                        guard request.body.count + chunk.readableBytes <= limits.maximumBodySize else {
                            let error = ServiceError(code: .payloadTooLarge, message: "the request body is larger than \(limits.maximumBodySize) bytes")
                            try await write(.error(error), to: outbound, version: request.head.version, keepAlive: false)
                            return
                        }
                        request.body += chunk.readableBytesView
                        pending = request
                    case .end:
                        guard let request = pending else { continue }
                        pending = nil
                        let response: APIResponse
                        do throws(ServiceError) {
                            response = router.respond(
                                to: try APIRequest(method: request.head.method, target: request.head.uri, body: request.body))
                        } catch {
                            response = .error(error)
                        }
                        let keepAlive = request.head.isKeepAlive
                        try await write(response, to: outbound, version: request.head.version, keepAlive: keepAlive)
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    /// Why a request head is refused before its body is read, if it is.
    private func refusal(of head: HTTPRequestHead) -> ServiceError? {
        if head.headers.count > limits.maximumHeaderCount {
            return ServiceError(code: .payloadTooLarge, message: "the request has more than \(limits.maximumHeaderCount) headers")
        }
        if head.uri.utf8.count > limits.maximumTargetLength {
            return ServiceError(code: .payloadTooLarge, message: "the request target is longer than \(limits.maximumTargetLength) bytes")
        }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maximumBodySize {
            return ServiceError(code: .payloadTooLarge, message: "the request body is larger than \(limits.maximumBodySize) bytes")
        }
        return nil
    }

    private func write(
        _ response: APIResponse,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        version: HTTPVersion,
        keepAlive: Bool
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: "\(response.body.count)")
        headers.add(name: "cache-control", value: "no-store")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        try await outbound.write(contentsOf: [
            .head(HTTPResponseHead(version: version, status: response.status, headers: headers)),
            .body(.byteBuffer(ByteBuffer(bytes: response.body))),
            .end(nil),
        ])
    }
}

/// The number of connections being served.
private final class ConnectionCount: Sendable {
    private let count = Mutex(0)

    /// Counts a new connection unless `limit` are already served.
    func enter(limit: Int) -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() {
        count.withLock { $0 -= 1 }
    }
}
