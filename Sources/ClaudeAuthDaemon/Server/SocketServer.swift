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

/// A socket API server: one bootstrap, one async server channel, a task per connection.
///
/// Serves only peers with the daemon's own uid. The main socket says `READY=1` once it is served, feeds the watchdog
/// while it serves, and says `STOPPING=1` when a graceful shutdown begins; the remote socket serves what its gate lets
/// through.
struct SocketServer: Service {
    typealias Connection = HTTPConnection.Channel

    /// Which socket it serves.
    enum Role: Sendable {
        /// The socket API, which tells the service manager how it is doing.
        case main(notifier: ServiceNotifier, status: @Sendable () -> String)
        /// The restricted socket for remote hosts.
        case remote(RemoteGate)
    }

    let endpoint: SocketEndpoint
    let role: Role
    let router: APIRouter
    /// Serves `/proxy/…`.
    let proxy: Proxy
    let limits: ServerLimits
    let logger: Logger

    func run() async throws {
        let server = try await bind()
        let notifier: ServiceNotifier?
        switch role {
        case .main(let main, let status):
            logger.info("serving the socket API", metadata: ["event": "ready"])
            main.ready(status: status())
            notifier = main
        case .remote:
            logger.info("serving the remote socket", metadata: ["event": "remote_ready"])
            notifier = nil
        }
        let active = ConnectionCount()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                if let notifier, let interval = notifier.watchdogInterval() {
                    let watchdog = Watchdog(interval: interval, loops: Self.loops, ping: notifier.watchdog)
                    group.addTask { await watchdog.run() }
                }
                try await server.executeThenClose { inbound in
                    // Graceful shutdown closes the listening channel, which ends this loop: cheaper per connection
                    // than merging the accepted connections with the shutdown signal.
                    for try await connection in inbound {
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
            server.channel.close(promise: nil)
            guard let notifier else { return }
            notifier.stopping()
            logger.info("stopping", metadata: ["event": "stopping"])
        }
    }

    /// The event loops that accept and serve connections.
    private static var loops: MultiThreadedEventLoopGroup { .singleton }

    private func bind() async throws -> NIOAsyncChannel<Connection, Never> {
        let bootstrap = ServerBootstrap(group: Self.loops)
            .serverChannelOption(.backlog, value: 256)
        let immediate: FrontHandler.Answer
        switch role {
        case .main: immediate = router.respondImmediately
        case .remote(let gate): immediate = gate.respondImmediately
        }
        // The peer is checked here, on the event loop: a refused one is closed and never becomes a connection to serve.
        let initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> = { [limits, logger] channel in
            let connection = PeerCredentials.of(channel).flatMapThrowing { peer in
                guard peer.uid == geteuid() else {
                    logger.warning(
                        "refused a connection from another user",
                        metadata: ["event": "peer_refused", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                    throw ForeignPeer()
                }
            }.flatMap {
                HTTPConnection.configure(channel, limits: limits, immediate: immediate)
            }
            connection.whenFailure { _ in channel.close(promise: nil) }
            return connection
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

    /// A connection from a process of another uid, refused.
    private struct ForeignPeer: Error {}

    private func serve(_ accepted: Connection) async {
        let http = HTTPConnection(limits: limits, logger: logger)
        switch role {
        case .main: await http.serve(accepted, respond: router.respond, streamed: proxy.socketRoute(gate: nil))
        case .remote(let gate): await http.serve(accepted, respond: gate.respond, streamed: proxy.socketRoute(gate: gate))
        }
    }
}
