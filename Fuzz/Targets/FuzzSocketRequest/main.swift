import AsyncHTTPClient
import ClaudeAuthCore
import Dispatch
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1

@testable import ClaudeAuthDaemon

#if canImport(Glibc)
import Glibc
#endif

/// Bytes as they would arrive on the socket, through the daemon's own HTTP pipeline, its router and its proxy, in
/// process, over a real credential service in a temporary state directory: an answer or a closed connection, never a
/// trap. The proxy's upstream refuses connections at once.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let done = DispatchSemaphore(value: 0)
    Task {
        await Daemon.shared.serve(bytes)
        done.signal()
    }
    done.wait()
    return 0
}

/// One daemon's parts, made once for the whole run.
struct Daemon: Sendable {
    static let shared = Daemon()

    let limits = ServerLimits()
    let router: APIRouter
    let proxy: Proxy
    let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    init() {
        let root = "/tmp/claude-auth-fuzz-\(getpid())"
        let configPath = root + "/config.toml"
        let environment = ["HOME": root, "FUZZ_KEY": "sk-fuzz-0123456789"]
        // An api-key profile from the environment, one stored, and an oauth profile whose endpoints refuse at once.
        let configuration = """
            default_profile = "api"
            [profiles.api]
            kind = "api-key"
            key_env = "FUZZ_KEY"
            upstream = "http://127.0.0.1:9"
            [profiles.stored]
            kind = "api-key"
            [profiles.work]
            kind = "oauth"
            client_id = "fuzz"
            authorize_url = "http://127.0.0.1:9/authorize"
            token_url = "http://127.0.0.1:9/token"
            revocation_url = "http://127.0.0.1:9/revoke"
            redirect_port = 0
            token_timeout = 1
            upstream = "http://127.0.0.1:9"
            """
        try? FileIO.ensurePrivateDirectory(root)
        try? FileIO.writeAtomically(Array(configuration.utf8), to: configPath)
        let loaded = (try? ConfigurationLoader(environment: environment).load(file: configPath)) ?? Configuration()
        let tokenEndpoint = TokenEndpointClient(
            http: HTTPClient(configuration: .init(redirectConfiguration: .disallow)), stateDirectory: root, logger: logger)
        let sessions = OAuthSessions(
            store: CredentialStore(stateDirectory: root), environment: environment, dependencies: .init(refresh: tokenEndpoint.refresh),
            logger: logger, changed: {})
        // Refreshes run as in the daemon, as children of the scheduler's task group.
        Task { await RefreshScheduler(sessions: sessions, wakeups: AsyncStream { _ in }, arm: { _ in }).run() }
        let credentials = CredentialService(
            configuration: loaded, configPath: configPath, environment: environment, stateDirectory: root, sessions: sessions, logger: logger)
        let logins = LoginManager(tokenEndpoint: tokenEndpoint, limits: limits, logger: logger) { profile, settings, tokens throws(ServiceError) in
            try await sessions.install(tokens, profile: profile, settings: settings)
        }
        router = APIRouter(credentials: credentials, logins: logins, tokenEndpoint: tokenEndpoint, reload: credentials.reload)
        proxy = Proxy(credentials: credentials, upstream: UpstreamClient(), statistics: ProxyStatistics(), logger: logger)
    }

    /// Feeds `bytes` to one connection, then ends it.
    func serve(_ bytes: [UInt8]) async {
        let channel = NIOAsyncTestingChannel()
        // The event loop answers what it can, as on the daemon's socket; the connection's task answers the rest.
        let immediate = router.respondImmediately
        guard
            let connection = try? await channel.testingEventLoop.executeInContext({ HTTPConnection.configure(channel, limits: limits, immediate: immediate) })
                .get()
        else { return }
        async let served: Void = HTTPConnection(limits: limits, logger: logger).serve(connection, respond: router.respond, streamed: proxy.socketRoute(gate: nil))
        _ = try? await channel.writeInbound(ByteBuffer(bytes: bytes))
        try? await channel.close()
        await served
    }
}
