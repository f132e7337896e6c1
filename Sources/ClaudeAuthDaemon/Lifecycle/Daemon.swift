import AsyncHTTPClient
import ClaudeAuthAPI
import ClaudeAuthCore
import Logging
import NIOCore
import ServiceLifecycle
import SystemdSupport

#if canImport(Glibc)
import Glibc
import UnixSignals
#endif

/// The credential daemon: loads the configuration, serves the socket API, and stops on SIGTERM.
public struct Daemon: Sendable {
    /// What the daemon was started with.
    public struct Options: Sendable {
        /// `--socket`: where to bind when not socket-activated.
        public var socketPath: String?
        /// `--config`: the configuration file.
        public var configPath: String?
        /// The process environment.
        public var environment: [String: String]
        /// `--request-timeout`: how long a client has to send a whole request.
        public var requestTimeout: Duration

        /// Creates options.
        public init(socketPath: String?, configPath: String?, environment: [String: String], requestTimeout: Duration = .seconds(10)) {
            self.socketPath = socketPath
            self.configPath = configPath
            self.environment = environment
            self.requestTimeout = requestTimeout
        }
    }

    /// How a run ended, as a process exit status (sysexits).
    public enum Exit: Int32, Sendable {
        /// A clean stop.
        case success = 0
        /// The socket could not be served.
        case unavailable = 69
        /// The configuration is invalid.
        case config = 78
    }

    private let options: Options

    /// Creates a daemon.
    public init(options: Options) {
        self.options = options
    }

    /// The configuration file in use.
    public var configPath: String {
        options.configPath ?? DefaultPaths.configFile(environment: options.environment)
    }

    /// Loads the configuration without serving: for `--check-config`.
    public func checkConfiguration() throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader(environment: options.environment).load(file: configPath)
    }

    /// Sets up logging for the daemon's process: the journal under systemd, else standard error.
    public static func bootstrapLogging(environment: [String: String]) {
        let journal = JournalLogHandler.isStandardErrorJournal(environment: environment)
        LoggingSystem.bootstrap { label in
            journal
                ? JournalLogHandler(identifier: "claude-authd") as any LogHandler
                : StreamLogHandler.standardError(label: label)
        }
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public func run() async -> Exit {
        let logger = Logger(label: "claude-authd")
        for failure in ProcessHardening.apply() {
            logger.warning("hardening step failed", metadata: ["step": "\(failure)"])
        }
        let configuration: Configuration
        do {
            configuration = try checkConfiguration()
        } catch {
            logger.critical("invalid configuration", metadata: ["event": "config_invalid", "error": "\(error)"])
            return .config
        }
        let endpoint: SocketEndpoint
        let remoteEndpoint: SocketEndpoint?
        let inherited: SocketActivation.Sockets
        do {
            inherited = try SocketActivation.inherited()
            endpoint = try socketEndpoint(inherited: inherited.unix)
            remoteEndpoint = try self.remoteEndpoint(inherited: inherited.remote, beside: endpoint, configuration: configuration)
        } catch {
            logger.critical("cannot serve the socket", metadata: ["error": "\(error)"])
            return .unavailable
        }
        // Token requests never follow redirects: a redirected POST could carry secrets elsewhere.
        let http = HTTPClient(configuration: .init(redirectConfiguration: .disallow))
        let stateDirectory = DefaultPaths.stateDirectory(environment: options.environment)
        let tokenEndpoint = TokenEndpointClient(http: http, stateDirectory: stateDirectory, logger: logger)
        let (wakeups, wake) = RefreshScheduler.makeWakeups()
        let timer: WallClockTimer
        do {
            timer = try WallClockTimer(fired: wake)
        } catch {
            logger.critical("cannot schedule refreshes", metadata: ["error": "\(error)"])
            try? await http.shutdown()
            return .unavailable
        }
        switch SleepWatcher.start(prepareForSleep: { sleeping in
            if sleeping {
                logger.info("the system is going to sleep", metadata: ["event": "suspend"])
            } else {
                logger.info("resumed from suspend: checking refresh deadlines", metadata: ["event": "resume"])
                wake()
            }
        }) {
        case .success: break
        case .failure(let error): logger.debug("no system bus: resume signals not watched", metadata: ["error": "\(error)"])
        }
        let (busEvents, busEventSink) = AsyncStream.makeStream(of: NotificationBus.Event.self)
        let desktop: NotificationBus?
        switch NotificationBus.connect(events: { busEventSink.yield($0) }) {
        case .success(let bus): desktop = bus
        case .failure(let error):
            desktop = nil
            logger.debug("no session bus: no desktop sign-in prompts", metadata: ["error": "\(error)"])
        }
        let (loginEvents, loginEventSink) = AsyncStream.makeStream(of: OAuthSessions.LoginEvent.self)
        let hasDesktop = desktop != nil
        let sessions = OAuthSessions(
            store: CredentialStore(stateDirectory: stateDirectory), environment: options.environment,
            dependencies: .init(refresh: tokenEndpoint.refresh), logger: logger, changed: wake,
            loginEvents: { event in if hasDesktop { loginEventSink.yield(event) } })
        let proxyStatistics = ProxyStatistics()
        let credentials = CredentialService(
            configuration: configuration, configPath: configPath, environment: options.environment,
            stateDirectory: stateDirectory, sessions: sessions, proxyStatistics: proxyStatistics, logger: logger)
        let upstream = UpstreamClient()
        let proxy = Proxy(credentials: credentials, upstream: upstream, statistics: proxyStatistics, logger: logger)
        let notifier = ServiceNotifier()
        let limits = ServerLimits(requestTimeout: .init(options.requestTimeout)).fitting(openFiles: ProcessHardening.openFileLimit)
        let logins = LoginManager(tokenEndpoint: tokenEndpoint, limits: limits, logger: logger) { profile, settings, tokens throws(ServiceError) in
            try await sessions.install(tokens, profile: profile, settings: settings)
        }
        let router = APIRouter(credentials: credentials, logins: logins, tokenEndpoint: tokenEndpoint, reload: credentials.reload)
        let server = SocketServer(
            endpoint: endpoint, role: .main(notifier: notifier, status: credentials.summary), router: router, proxy: proxy, limits: limits,
            logger: logger)
        // Shut down in reverse order: the socket first, the refreshes in flight drain last. Each service is named: the
        // group's default name is the service printed by reflection, which costs the start-up milliseconds.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: RefreshScheduler(sessions: sessions, wakeups: wakeups, arm: { timer.arm(at: $0) }), serviceName: "refresh"),
            .init(service: ConfigReloader(credentials: credentials, notifier: notifier), serviceName: "reload"),
            .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "socket"),
        ]
        if let remoteEndpoint {
            let gate = RemoteGate(router: router, credentials: credentials, logger: logger)
            services.append(
                .init(
                    service: SocketServer(endpoint: remoteEndpoint, role: .remote(gate), router: router, proxy: proxy, limits: limits, logger: logger),
                    serviceName: "remote-socket"))
        }
        if let listener = inherited.tcp.map(ProxyListener.Endpoint.inherited) ?? configuration.proxy.listen.map(ProxyListener.Endpoint.address) {
            services.append(.init(service: ProxyListener(endpoint: listener, proxy: proxy, limits: limits, logger: logger), serviceName: "proxy"))
        }
        if let desktop {
            let prompts = SignInPrompts(
                bus: desktop, busEvents: busEvents, loginEvents: loginEvents, enabled: { credentials.signInPrompts },
                startLogin: { profile throws(ServiceError) in
                    let oauth = try credentials.oauthSettings(for: profile)
                    return try await logins.start(profile: oauth.profile, settings: oauth.settings, clientSecret: oauth.clientSecret).authorizeURL
                },
                // In its sandbox the daemon asks the user manager to run the opener, so the browser does not inherit it.
                opener: options.environment["INVOCATION_ID"] == nil ? ["xdg-open"] : ["systemd-run", "--user", "--quiet", "--collect", "--", "xdg-open"],
                openerEnvironment: SignInPrompts.desktopEnvironment(of: options.environment),
                logger: logger)
            services.append(.init(service: prompts, serviceName: "sign-in-prompts"))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        let exit: Exit
        do {
            try await group.run()
            exit = .success
        } catch {
            logger.critical("stopped on an error", metadata: ["error": "\(error)"])
            exit = .unavailable
        }
        try? await http.shutdown()
        await upstream.shutdown()
        return exit
    }

    /// The remote socket: the one systemd passed, else, started by hand with a profile marked `remote = true`,
    /// `remote.socket` beside the main socket.
    private func remoteEndpoint(inherited: Int32?, beside main: SocketEndpoint, configuration: Configuration) throws -> SocketEndpoint? {
        if let fd = inherited { return .inherited(fd: fd) }
        guard case .path(let path) = main, configuration.servesRemotely else { return nil }
        let remote = FileIO.directoryName(of: path) + "/" + SocketActivation.remoteName
        try SocketEndpoint.preparePath(remote, privateDirectory: false)
        return .path(remote)
    }

    private func socketEndpoint(inherited: Int32?) throws -> SocketEndpoint {
        if let fd = inherited { return .inherited(fd: fd) }
        let socket = try SocketPath.locate(explicit: options.socketPath, environment: options.environment)
        try SocketEndpoint.preparePath(socket.path, privateDirectory: socket.isDefault)
        return .path(socket.path)
    }
}
