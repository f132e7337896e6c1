import AsyncHTTPClient
import NIOCore
import NIOPosix

/// The proxy's HTTP client to the upstreams: redirects go back to the client, never followed with the credential,
/// bodies pass through as they are (no decompression), and enough connections per host for many concurrent clients.
struct UpstreamClient: Sendable {
    /// How long an answer that has begun may stay silent.
    static let silenceTimeout = TimeAmount.minutes(10)

    private let http: HTTPClient

    init() {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        // An upstream that refuses connections is reported at once (502), not retried until the request's deadline.
        pool.retryConnectionEstablishment = false
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: Self.silenceTimeout), connectionPool: pool,
            decompression: .disabled)
        configuration.httpVersion = .automatic
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    /// Sends `request`; the answer's head must come within `timeout` seconds.
    func send(_ request: HTTPClientRequest, timeout: Int) async throws -> HTTPClientResponse {
        try await http.execute(request, deadline: .now() + .seconds(Int64(timeout)))
    }

    func shutdown() async {
        try? await http.shutdown()
    }
}
