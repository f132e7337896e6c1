import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The listener a pending login's browser redirect lands on (DESIGN §7).
///
/// It binds 127.0.0.1 and, where the host has it, ::1 on one port, answers only the redirect path, and serves
/// until ``close()``.
final class CallbackListener: Sendable {
    /// Why the listener could not start.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    typealias Server = NIOAsyncChannel<HTTPConnection.Channel, Never>

    /// The port bound.
    let port: Int
    private let servers: [Server]
    private let limits: ServerLimits
    private let logger: Logger

    private init(port: Int, servers: [Server], limits: ServerLimits, logger: Logger) {
        self.port = port
        self.servers = servers
        self.limits = limits
        self.logger = logger
    }

    /// Binds `port` (0: an ephemeral one) on the loopback addresses.
    static func bind(port: Int, limits: ServerLimits, logger: Logger) async throws(Failure) -> CallbackListener {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<HTTPConnection.Channel> = { channel in
            HTTPConnection.configure(channel, limits: limits)
        }
        let v4: Server
        do {
            v4 = try await bootstrap.bind(host: "127.0.0.1", port: port, childChannelInitializer: initializer)
        } catch {
            throw Failure(
                description: "cannot listen for the sign-in redirect on 127.0.0.1:\(port) (\(error)); "
                    + "stop what uses the port, or use another redirect_port the authorization server accepts")
        }
        let bound = v4.channel.localAddress?.port ?? port
        var servers = [v4]
        // ::1 as well, for browsers that resolve localhost to it; a host without IPv6 keeps 127.0.0.1 only.
        if let v6 = try? await bootstrap.bind(host: "::1", port: bound, childChannelInitializer: initializer) {
            servers.append(v6)
        }
        return CallbackListener(port: bound, servers: servers, limits: limits, logger: logger)
    }

    /// Serves until closed: `path` goes to `handle` with its query parameters; anything else gets 404.
    func run(path: String, handle: @escaping @Sendable ([String: String]) async -> APIResponse) async {
        let connection = HTTPConnection(limits: limits, logger: logger)
        let active = ConnectionCount()
        await withDiscardingTaskGroup { group in
            for server in servers {
                group.addTask {
                    await self.serve(server, active: active) { client in
                        await connection.serve(client) { request in
                            guard request.method == .GET, request.path == path else { return CallbackPage.notFound }
                            return await handle(request.query)
                        }
                    }
                }
            }
        }
    }

    /// Accepts on one server, at most ``ServerLimits/maximumCallbackConnections`` at a time across the listener;
    /// beyond that a connection is closed at once.
    private func serve(_ server: Server, active: ConnectionCount, client serve: @escaping @Sendable (HTTPConnection.Channel) async -> Void) async {
        try? await server.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { connections in
                for try await client in inbound {
                    guard active.enter(limit: limits.maximumCallbackConnections) else {
                        try? await client.channel.close()
                        continue
                    }
                    connections.addTask {
                        defer { active.leave() }
                        await serve(client)
                    }
                }
            }
        }
    }

    /// Stops listening; connections being answered finish.
    func close() async {
        for server in servers {
            try? await server.channel.close()
        }
    }
}

/// The pages the browser sees after a redirect: fixed texts that never quote the request.
enum CallbackPage {
    static let signedIn = page(.ok, "Signed in", "claude-auth has your sign-in. You can close this tab.")
    static let failed = page(
        .ok, "Sign-in failed", "The sign-in did not complete. The terminal where you ran claude-auth login says why.")
    static let wrongState = page(
        .badRequest, "Not this sign-in",
        "This redirect does not belong to the sign-in claude-auth is waiting for. Use the link claude-auth printed.")
    static let notFound = page(.notFound, "Not found", "Nothing here.")

    private static func page(_ status: HTTPResponseStatus, _ title: String, _ text: String) -> APIResponse {
        let html = """
            <!doctype html><html><head><meta charset="utf-8"><title>\(title)</title></head>
            <body><h1>\(title)</h1><p>\(text)</p></body></html>

            """
        return APIResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(html.utf8))
    }
}
