import ClaudeAuthAPI
import ClaudeAuthCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The proxy's loopback TCP listener, for SDKs and tools that speak only TCP.
///
/// Every local user can connect to it, so it serves only connections whose other end the kernel says belongs to
/// the daemon's own uid, failing closed; and since a browser runs as that uid too, it refuses any request that
/// carries `Origin`, `Sec-Fetch-Site` or `Sec-Fetch-Mode`, or names a `Host` other than the listener's own.
struct ProxyListener: Service {
    /// Where it listens.
    enum Endpoint: Sendable {
        /// A listening socket inherited through socket activation.
        case inherited(fd: Int32)
        /// An address to bind.
        case address(LoopbackAddress)
    }

    let endpoint: Endpoint
    let proxy: Proxy
    let limits: ServerLimits
    let logger: Logger

    func run() async throws {
        let server = try await bind()
        guard let address = server.channel.localAddress, let port = address.port, let host = address.ipAddress else {
            throw SocketEndpoint.Failure(description: "the proxy's TCP listener has no local address")
        }
        let listening = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        proxy.statistics.listening = listening
        logger.info("proxy listening", metadata: ["event": "proxy_ready", "address": "\(listening)"])
        let refusals = RefusalLog(logger: logger)
        let hosts: Set<String> = [listening, "localhost:\(port)"]
        // Every request on this listener is the proxy's: the socket API is not served over TCP.
        let route = HTTPConnection.StreamedRoute(
            claims: { _ in true },
            serve: { head, body, outbound in
                if let reason = Self.refusal(of: head, hosts: hosts) {
                    refusals.note(reason)
                    let error = ProxyError(status: .forbidden, type: "permission_error", message: "claude-auth's proxy refused \(reason)")
                    try await Proxy.write(error, to: outbound, version: head.version)
                    return false
                }
                return try await proxy.serve(head, target: head.uri, body: &body, to: outbound)
            })
        let active = ConnectionCount()
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound.cancelOnGracefulShutdown() {
                    guard active.enter(limit: limits.maximumConnections) else {
                        try? await connection.channel.close()
                        continue
                    }
                    group.addTask {
                        defer { active.leave() }
                        guard Self.isOurs(connection.channel) else {
                            refusals.note("a connection from another user")
                            try? await connection.channel.close()
                            return
                        }
                        await HTTPConnection(limits: limits, logger: logger).serve(connection, respond: Self.noSocketAPI, streamed: route)
                    }
                }
            }
            group.cancelAll()
        }
        proxy.statistics.listening = nil
    }

    private func bind() async throws -> NIOAsyncChannel<HTTPConnection.Channel, Never> {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<HTTPConnection.Channel> = { [limits] channel in
            HTTPConnection.configure(channel, limits: limits)
        }
        switch endpoint {
        case .inherited(let fd):
            return try await bootstrap.bind(fd, childChannelInitializer: initializer)
        case .address(let address):
            return try await bootstrap.bind(host: address.host, port: address.port, childChannelInitializer: initializer)
        }
    }

    /// What the socket API would answer over TCP; never reached, since the proxy claims every request.
    @Sendable
    private static func noSocketAPI(_ request: APIRequest) async -> APIResponse {
        .error(ServiceError(code: .notFound, message: "the socket API is served on the Unix socket only"))
    }

    /// Why a request is refused before it is proxied, if it is.
    static func refusal(of head: HTTPRequestHead, hosts: Set<String>) -> String? {
        for name in ["Origin", "Sec-Fetch-Site", "Sec-Fetch-Mode"] where head.headers.contains(name: name) {
            return "a request with \(name), as a browser sends"
        }
        let named = head.headers["host"]
        guard named.count == 1, let host = named.first, hosts.contains(host.lowercased()) else {
            return "a request for host \(ServerText.excerpt(named.first ?? "(none)", limit: 64)), not this listener's own"
        }
        return nil
    }

    /// Whether the other end of a loopback TCP connection belongs to this process's uid; false when that cannot be told.
    static func isOurs(_ channel: any Channel) -> Bool {
        guard let peer = channel.remoteAddress, let local = channel.localAddress,
            let owner = SocketOwner.uid(connectedFrom: peer, to: local)
        else { return false }
        return owner == geteuid()
    }
}

/// Logs each kind of refusal at most once a minute, with how many were not logged meanwhile.
final class RefusalLog: Sendable {
    private let logger: Logger
    private let interval: Duration = .seconds(60)
    private let last = Mutex<[String: (at: ContinuousClock.Instant, suppressed: Int)]>([:])

    init(logger: Logger) {
        self.logger = logger
    }

    func note(_ reason: String) {
        let now = ContinuousClock.now
        let suppressed = last.withLock { last -> Int? in
            if let previous = last[reason], now - previous.at < interval {
                last[reason]?.suppressed += 1
                return nil
            }
            defer { last[reason] = (now, 0) }
            return last[reason]?.suppressed ?? 0
        }
        guard let suppressed else { return }
        logger.warning("the proxy refused \(reason)", metadata: ["event": "proxy_refused", "reason": "\(reason)", "suppressed": "\(suppressed)"])
    }
}
