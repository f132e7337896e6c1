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
/// Serves only peers with the daemon's own uid. Says `READY=1` once the socket is served, feeds the watchdog
/// while it serves, and says `STOPPING=1` when a graceful shutdown begins.
struct SocketServer: Service {
    typealias Connection = HTTPConnection.Channel

    let endpoint: SocketEndpoint
    let router: APIRouter
    /// Serves `/proxy/…`.
    let proxy: Proxy
    let limits: ServerLimits
    let notifier: ServiceNotifier
    let status: @Sendable () -> String
    let logger: Logger

    func run() async throws {
        let server = try await bind()
        logger.info("serving the socket API", metadata: ["event": "ready"])
        notifier.ready(status: status())
        let active = ConnectionCount()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                if let interval = notifier.watchdogInterval() {
                    let watchdog = Watchdog(interval: interval, loops: Self.loops, ping: notifier.watchdog)
                    group.addTask { await watchdog.run() }
                }
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

    /// The event loops that accept and serve connections.
    private static var loops: MultiThreadedEventLoopGroup { .singleton }

    private func bind() async throws -> NIOAsyncChannel<Connection, Never> {
        let bootstrap = ServerBootstrap(group: Self.loops)
            .serverChannelOption(.backlog, value: 256)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { [limits] channel in
            HTTPConnection.configure(channel, limits: limits)
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
        } catch {
            logger.debug("cannot read the peer's credentials", metadata: ["error": "\(error)"])
            try? await connection.channel.close()
            return
        }
        await HTTPConnection(limits: limits, logger: logger).serve(connection, respond: router.respond, streamed: proxy.socketRoute)
    }
}
