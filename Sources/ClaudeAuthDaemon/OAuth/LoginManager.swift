#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
import ClaudeAuthCore
import Logging

/// Runs Authorization Code + PKCE logins (DESIGN §7), each with its own loopback listener, and device logins
/// (RFC 8628), each polling the token endpoint: one pending login per profile, its listener closed and its polling
/// stopped on success, failure or timeout.
///
/// An actor, because a login's state spans `await`s: after each one, what was checked before is checked again.
actor LoginManager {
    /// What a client is told when it starts a login.
    struct Ticket: Sendable {
        var id: String
        /// The URL to open: the authorization request, or the device login's verification URI (complete if given).
        var authorizeURL: String
        /// The redirect URI of a browser login.
        var redirectURI: String?
        /// The device login's user code and verification URI.
        var device: (userCode: String, verificationURI: String)?
        /// Whether the profile also offers the device flow.
        var deviceFlowAvailable: Bool
        var expiresAt: Date
    }

    /// Where a login stands, as clients see it.
    enum Outcome: Sendable, Equatable {
        case pending
        case succeeded
        case failed(String)
    }

    /// What the manager takes from the world, injected so tests control time, the listener and the token endpoint.
    struct Dependencies: Sendable {
        /// The wall-clock time.
        var now: @Sendable () -> Date = { Date() }
        /// Sleeps for a duration: the login's timeout and each waiter's deadline; throws when cancelled.
        var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
        /// Binds the callback listener on a port (0: an ephemeral one).
        var bind: @Sendable (_ port: Int) async throws(CallbackListener.Failure) -> CallbackListener
        /// Trades an authorization code for tokens.
        var exchange: @Sendable (_ code: String, _ login: Exchange) async -> Result<TokenSet, TokenEndpointFailure>
        /// Fills in the endpoints the issuer's metadata gives; settings without an issuer are returned as they are.
        var resolve: @Sendable (OAuthSettings) async -> Result<OAuthSettings, TokenEndpointFailure> = { .success($0) }
        /// Asks for a device code and a user code.
        var authorizeDevice: @Sendable (_ settings: OAuthSettings, _ clientSecret: Secret?) async -> Result<DeviceAuthorization, TokenEndpointFailure>
        /// Polls the token endpoint with a device code.
        var pollDevice: @Sendable (_ deviceCode: Secret, _ settings: OAuthSettings, _ clientSecret: Secret?) async -> Result<TokenSet, TokenEndpointFailure>
    }

    /// What a code exchange sends besides the code.
    struct Exchange: Sendable {
        var verifier: Secret
        var redirectURI: String
        var state: Secret
        var settings: OAuthSettings
        var clientSecret: Secret?
    }

    /// A login's state: one value, so a login is never both exchanging and ended.
    private enum Phase: Equatable {
        /// Waiting for the browser's redirect or a pasted code, or for the device login's next poll.
        case awaitingCode
        /// The code is at the token endpoint; a timeout or a newer login still ends the login, and the answer is dropped.
        case exchanging
        /// The tokens are being stored: the login ends with the store's outcome, nothing else.
        case installing
        case succeeded
        case failed(String)

        var outcome: Outcome {
            switch self {
            case .awaitingCode, .exchanging, .installing: .pending
            case .succeeded: .succeeded
            case .failed(let reason): .failed(reason)
            }
        }

        /// Whether a timeout or a newer login may end it.
        var isReplaceable: Bool {
            self == .awaitingCode || self == .exchanging
        }
    }

    private struct Waiter {
        var continuation: CheckedContinuation<Outcome, Never>
        var deadline: Task<Void, Never>?
    }

    private struct Login {
        var profile: String
        /// The profile's settings, as configured.
        var settings: OAuthSettings
        var clientSecret: Secret?
        /// What a browser login's code is exchanged with, and the listener its redirect comes to; nil for a device login.
        var redirect: (exchange: Exchange, listener: CallbackListener)?
        var expiresAt: Date
        var phase: Phase = .awaitingCode
        var timeout: Task<Void, Never>?
        /// A device login's polling.
        var poller: Task<Void, Never>?
        var waiters: [Int: Waiter] = [:]
    }

    private var logins: [String: Login] = [:]
    private var waitersAdmitted = 0
    private let dependencies: Dependencies
    private let logger: Logger
    /// Persists and installs the tokens of a finished login.
    private let install: @Sendable (String, OAuthSettings, TokenSet) async throws(ServiceError) -> Void

    init(
        dependencies: Dependencies, logger: Logger,
        install: @escaping @Sendable (String, OAuthSettings, TokenSet) async throws(ServiceError) -> Void
    ) {
        self.dependencies = dependencies
        self.logger = logger
        self.install = install
    }

    /// A manager that binds real listeners and exchanges codes at `tokenEndpoint`.
    init(
        tokenEndpoint: TokenEndpointClient, limits: ServerLimits, logger: Logger,
        install: @escaping @Sendable (String, OAuthSettings, TokenSet) async throws(ServiceError) -> Void
    ) {
        let dependencies = Dependencies(
            bind: { port throws(CallbackListener.Failure) in try await CallbackListener.bind(port: port, limits: limits, logger: logger) },
            exchange: { code, login in
                await tokenEndpoint.exchange(
                    code: code, verifier: login.verifier, redirectURI: login.redirectURI, state: login.state, settings: login.settings,
                    secret: login.clientSecret)
            },
            resolve: tokenEndpoint.resolve,
            authorizeDevice: tokenEndpoint.authorizeDevice,
            pollDevice: tokenEndpoint.pollDevice)
        self.init(dependencies: dependencies, logger: logger, install: install)
    }

    /// Starts a browser login for `profile`, replacing one already pending for it.
    func start(profile: String, settings: OAuthSettings, clientSecret: Secret?) async throws(ServiceError) -> Ticket {
        await prepare(profile)
        let resolved = try await resolve(settings, profile: profile)
        guard let authorizeURL = resolved.endpoints.authorize else {
            throw ServiceError(
                code: .invalidConfig, message: "the issuer's metadata names no authorization endpoint: set authorize_url, or use login --device",
                profile: profile)
        }
        let listener: CallbackListener
        do {
            listener = try await dependencies.bind(settings.redirectPort)
        } catch {
            throw ServiceError(code: .invalidRequest, message: error.description, profile: profile)
        }
        // Another start for this profile may have come in while the port was bound: the newest replaces it. No
        // `await` between the last check and the insertion.
        await replacePending(profile)
        let id = Base64URL.encode((0..<16).map { _ in UInt8.random(in: .min ... .max) })
        let secrets = AuthorizationSecrets()
        let redirectURI = settings.redirectURI(port: listener.port)
        let expiresAt = dependencies.now().addingTimeInterval(TimeInterval(settings.loginTimeout))
        let exchange = Exchange(
            verifier: secrets.verifier, redirectURI: redirectURI, state: secrets.state, settings: resolved, clientSecret: clientSecret)
        logins[id] = Login(
            profile: profile, settings: settings, clientSecret: clientSecret, redirect: (exchange, listener), expiresAt: expiresAt)
        Task { await listener.run(path: settings.redirectPath) { [weak self] query in await self?.callback(id, query) ?? CallbackPage.failed } }
        armTimeout(id, seconds: settings.loginTimeout)
        logger.info("login started", metadata: ["profile": "\(profile)", "event": "login_started", "port": "\(listener.port)"])
        return Ticket(
            id: id, authorizeURL: Self.authorizeURL(authorizeURL, settings, secrets, redirectURI), redirectURI: redirectURI,
            deviceFlowAvailable: resolved.endpoints.deviceAuthorization != nil, expiresAt: expiresAt)
    }

    /// Starts a device login for `profile` (RFC 8628), replacing one already pending for it: the codes are requested
    /// now, and the token endpoint polled until the user approves, refuses, or the codes expire.
    func startDevice(profile: String, settings: OAuthSettings, clientSecret: Secret?) async throws(ServiceError) -> Ticket {
        await prepare(profile)
        let resolved = try await resolve(settings, profile: profile)
        let authorization: DeviceAuthorization
        switch await dependencies.authorizeDevice(resolved, clientSecret) {
        case .success(let answer):
            authorization = answer
        case .failure(let failure):
            let hidden = clientSecret.map { [$0] } ?? []
            throw ServiceError(
                code: failure.kind == .transient ? .tokenEndpointUnavailable : .invalidRequest,
                message: "the device login could not start: \(ServerText.excerpt(failure.message, limit: 600, hiding: hidden))", profile: profile)
        }
        await replacePending(profile)
        let id = Base64URL.encode((0..<16).map { _ in UInt8.random(in: .min ... .max) })
        let expiresAt = dependencies.now().addingTimeInterval(TimeInterval(authorization.expiresIn))
        logins[id] = Login(profile: profile, settings: settings, clientSecret: clientSecret, expiresAt: expiresAt)
        armTimeout(id, seconds: authorization.expiresIn)
        logins[id]?.poller = Task { [weak self] in await self?.poll(id, authorization, settings: resolved) }
        logger.info("device login started", metadata: ["profile": "\(profile)", "event": "login_started", "flow": "device"])
        return Ticket(
            id: id, authorizeURL: authorization.verificationURIComplete ?? authorization.verificationURI,
            device: (authorization.userCode, authorization.verificationURI), deviceFlowAvailable: true, expiresAt: expiresAt)
    }

    /// Drops ended logins whose time is up (they stay answerable until then) and ends the one pending for `profile`.
    private func prepare(_ profile: String) async {
        let now = dependencies.now()
        logins = logins.filter { $0.value.phase.outcome == .pending || $0.value.expiresAt > now }
        await replacePending(profile)
    }

    private func resolve(_ settings: OAuthSettings, profile: String) async throws(ServiceError) -> OAuthSettings {
        switch await dependencies.resolve(settings) {
        case .success(let resolved): return resolved
        case .failure(let failure): throw ServiceError(code: .tokenEndpointUnavailable, message: failure.message, profile: profile)
        }
    }

    private func armTimeout(_ id: String, seconds: Int) {
        let sleep = dependencies.sleep
        logins[id]?.timeout = Task { [weak self] in
            guard (try? await sleep(.seconds(seconds))) != nil else { return }
            await self?.finish(id, .failed("the login was not completed within \(seconds) s"), interrupting: true)
        }
    }

    /// Polls for a device login's tokens as RFC 8628 §3.5 says, until it ends.
    private func poll(_ id: String, _ authorization: DeviceAuthorization, settings: OAuthSettings) async {
        var polling = DevicePolling(interval: authorization.interval)
        var wait = polling.interval
        let sleep = dependencies.sleep
        while true {
            guard (try? await sleep(.seconds(wait))) != nil, let login = logins[id], login.phase == .awaitingCode else { return }
            logins[id]?.phase = .exchanging
            let result = await dependencies.pollDevice(authorization.deviceCode, settings, login.clientSecret)
            guard logins[id]?.phase == .exchanging else { return }
            switch result {
            case .success(let tokens):
                _ = await install(id, login, tokens)
                return
            case .failure(let failure):
                switch polling.next(after: failure) {
                case .poll(let seconds):
                    logins[id]?.phase = .awaitingCode
                    wait = seconds
                case .fail(let reason):
                    await finish(id, .failed(reason))
                    return
                }
            }
        }
    }

    /// The login's outcome, waiting up to `seconds` for it to leave `pending`.
    func wait(_ id: String, seconds: Int) async throws(ServiceError) -> Outcome {
        guard let login = logins[id] else { throw Self.unknown(id) }
        guard login.phase.outcome == .pending, seconds > 0 else { return login.phase.outcome }
        waitersAdmitted += 1
        let waiter = waitersAdmitted
        let sleep = dependencies.sleep
        return await withCheckedContinuation { continuation in
            logins[id]?.waiters[waiter] = Waiter(continuation: continuation, deadline: Task { [weak self] in
                guard (try? await sleep(.seconds(seconds))) != nil else { return }
                await self?.release(id, waiter)
            })
        }
    }

    /// Finishes a login with what the user pasted: a bare code, `code#state`, or the whole redirect URL.
    func submit(_ id: String, input: String) async throws(ServiceError) -> Outcome {
        guard let login = logins[id] else { throw Self.unknown(id) }
        guard let redirect = login.redirect else {
            throw ServiceError(code: .invalidRequest, message: "a device login takes no code here: approve it in the browser", profile: login.profile)
        }
        guard login.phase == .awaitingCode else { return login.phase.outcome }
        var parameters = PastedCode.parameters(input)
        if parameters["code"]?.isEmpty ?? true, parameters["error"] == nil {
            throw ServiceError(code: .invalidRequest, message: "that is not a code, code#state, or a redirect URL with a code", profile: login.profile)
        }
        // A bare code, or a URL without state, belongs to this login by construction.
        let expected = redirect.exchange.state.unredacted
        let state = parameters["state"] ?? expected
        parameters["state"] = state
        guard ConstantTime.equals(state, expected) else {
            throw ServiceError(code: .invalidRequest, message: "that code belongs to another login (its state does not match)", profile: login.profile)
        }
        _ = await callback(id, parameters)
        return logins[id]?.phase.outcome ?? .failed("the login ended")
    }

    /// Answers the browser's redirect: a wrong state keeps the login waiting; `error=` ends it; a code is exchanged,
    /// and its tokens installed only if the login is still the one waiting for them.
    func callback(_ id: String, _ query: [String: String]) async -> APIResponse {
        guard let login = logins[id], login.phase == .awaitingCode, let exchange = login.redirect?.exchange else { return CallbackPage.failed }
        guard let state = query["state"], ConstantTime.equals(state, exchange.state.unredacted) else {
            logger.warning("sign-in redirect with a wrong state ignored", metadata: ["profile": "\(login.profile)", "event": "login_wrong_state"])
            return CallbackPage.wrongState
        }
        if let error = query["error"] {
            let description = query["error_description"].map { " (\(ServerText.excerpt($0)))" } ?? ""
            await finish(id, .failed("the authorization server refused the sign-in: \(ServerText.excerpt(error))\(description)"))
            return CallbackPage.failed
        }
        guard let code = query["code"], !code.isEmpty else {
            await finish(id, .failed("the redirect carried no code"))
            return CallbackPage.failed
        }
        logins[id]?.phase = .exchanging
        let result = await dependencies.exchange(code, exchange)
        // The login may have timed out or been replaced while the server answered: then its tokens are not wanted.
        guard logins[id]?.phase == .exchanging else { return CallbackPage.failed }
        switch result {
        case .success(let tokens):
            return await install(id, login, tokens) ? CallbackPage.signedIn : CallbackPage.failed
        case .failure(let failure):
            let hidden = [exchange.verifier] + (exchange.clientSecret.map { [$0] } ?? [])
            await finish(id, .failed("the code exchange failed: \(ServerText.excerpt(failure.message, limit: 600, hiding: hidden))"))
            return CallbackPage.failed
        }
    }

    /// Stores and installs the tokens a login obtained, and ends it with the outcome.
    private func install(_ id: String, _ login: Login, _ tokens: TokenSet) async -> Bool {
        logins[id]?.phase = .installing
        do {
            try await install(login.profile, login.settings, tokens)
        } catch {
            await finish(id, .failed(error.message))
            return false
        }
        logger.info(
            "login succeeded",
            metadata: ["profile": "\(login.profile)", "event": "login_succeeded", "fingerprint": "\(tokens.accessToken.fingerprint)"])
        await finish(id, .succeeded)
        return true
    }

    /// Ends every login pending for `profile` as replaced; returns once none is.
    private func replacePending(_ profile: String) async {
        while let (id, _) = logins.first(where: { $0.value.profile == profile && $0.value.phase.isReplaceable }) {
            await finish(id, .failed("replaced by a newer login"), interrupting: true)
        }
    }

    /// Ends a pending login; one `interrupting` it from outside (a timeout, a newer login) only before its tokens
    /// are being installed. Its timers are cancelled, its listener closed, then its waiters told.
    private func finish(_ id: String, _ phase: Phase, interrupting: Bool = false) async {
        guard var login = logins[id], login.phase.outcome == .pending, !interrupting || login.phase.isReplaceable else { return }
        login.phase = phase
        let waiters = login.waiters
        login.waiters = [:]
        login.timeout?.cancel()
        login.timeout = nil
        login.poller?.cancel()
        login.poller = nil
        logins[id] = login
        if case .failed(let reason) = phase {
            logger.warning("login failed", metadata: ["profile": "\(login.profile)", "event": "login_failed", "reason": "\(reason)"])
        }
        // Closed before anyone is told, so a client that hears the outcome finds the port closed.
        await login.redirect?.listener.close()
        for waiter in waiters.values {
            waiter.deadline?.cancel()
            waiter.continuation.resume(returning: phase.outcome)
        }
    }

    private func release(_ id: String, _ waiter: Int) {
        guard let waiter = logins[id]?.waiters.removeValue(forKey: waiter) else { return }
        waiter.continuation.resume(returning: logins[id]?.phase.outcome ?? .pending)
    }

    private static func authorizeURL(_ endpoint: String, _ settings: OAuthSettings, _ secrets: AuthorizationSecrets, _ redirectURI: String) -> String {
        var parameters = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI),
            ("code_challenge", secrets.challenge), ("code_challenge_method", "S256"), ("state", secrets.state.unredacted),
        ]
        if !settings.scopes.isEmpty { parameters.append(("scope", settings.scopes.joined(separator: " "))) }
        if settings.scopes.contains("openid") { parameters.append(("nonce", secrets.nonce.unredacted)) }
        parameters += settings.authorizeParameters.map { ($0.name, $0.value) }
        let separator = endpoint.contains("?") ? "&" : "?"
        return endpoint + separator + FormEncoding.encode(parameters).replacing("+", with: "%20")
    }

    private static func unknown(_ id: String) -> ServiceError {
        ServiceError(code: .notFound, message: "no login \(id.prefix(32)): it ended or never existed; start one with `claude-auth login`")
    }
}
