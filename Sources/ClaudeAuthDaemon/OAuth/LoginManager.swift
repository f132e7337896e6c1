#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
import ClaudeAuthCore
import Logging

/// Runs Authorization Code + PKCE logins (DESIGN §7): one pending login per profile, each with its own loopback
/// listener, closed on success, failure or timeout.
actor LoginManager {
    /// What a client is told when it starts a login.
    struct Ticket: Sendable {
        var id: String
        var authorizeURL: String
        var redirectURI: String
        var expiresAt: Date
    }

    /// Where a login stands.
    enum Outcome: Sendable, Equatable {
        case pending
        case succeeded
        case failed(String)
    }

    private struct Login {
        var profile: String
        var settings: OAuthSettings
        var clientSecret: Secret?
        var secrets: AuthorizationSecrets
        var redirectURI: String
        var expiresAt: Date
        var outcome: Outcome = .pending
        var exchanging = false
        var listener: CallbackListener
        var waiters: [UUID: CheckedContinuation<Outcome, Never>] = [:]
    }

    private var logins: [String: Login] = [:]
    private let tokenEndpoint: TokenEndpointClient
    private let limits: ServerLimits
    private let logger: Logger
    /// Persists and installs the tokens of a finished login.
    private let install: @Sendable (String, OAuthSettings, TokenSet) async throws(ServiceError) -> Void

    init(
        tokenEndpoint: TokenEndpointClient, limits: ServerLimits, logger: Logger,
        install: @escaping @Sendable (String, OAuthSettings, TokenSet) async throws(ServiceError) -> Void
    ) {
        self.tokenEndpoint = tokenEndpoint
        self.limits = limits
        self.logger = logger
        self.install = install
    }

    /// Starts a login for `profile`, replacing one already pending for it.
    func start(profile: String, settings: OAuthSettings, clientSecret: Secret?) async throws(ServiceError) -> Ticket {
        // Ended logins stay answerable until they would have expired, then go.
        let now = Date()
        logins = logins.filter { $0.value.outcome == .pending || $0.value.expiresAt > now }
        for (id, login) in logins where login.profile == profile && login.outcome == .pending {
            await finish(id, .failed("replaced by a newer login"))
        }
        let listener: CallbackListener
        do {
            listener = try await CallbackListener.bind(port: settings.redirectPort, limits: limits, logger: logger)
        } catch {
            throw ServiceError(code: .invalidRequest, message: error.description, profile: profile)
        }
        let id = Base64URL.encode((0..<16).map { _ in UInt8.random(in: .min ... .max) })
        let secrets = AuthorizationSecrets()
        let redirectURI = settings.redirectURI(port: listener.port)
        let login = Login(
            profile: profile, settings: settings, clientSecret: clientSecret, secrets: secrets, redirectURI: redirectURI,
            expiresAt: Date().addingTimeInterval(TimeInterval(settings.loginTimeout)), listener: listener)
        logins[id] = login
        Task { await listener.run(path: settings.redirectPath) { [weak self] query in await self?.callback(id, query) ?? CallbackPage.failed } }
        Task { [weak self, timeout = settings.loginTimeout] in
            try? await Task.sleep(for: .seconds(timeout))
            await self?.finish(id, .failed("the login was not completed within \(timeout) s"))
        }
        logger.info("login started", metadata: ["profile": "\(profile)", "event": "login_started", "port": "\(listener.port)"])
        return Ticket(id: id, authorizeURL: Self.authorizeURL(settings, secrets, redirectURI), redirectURI: redirectURI, expiresAt: login.expiresAt)
    }

    /// The login's outcome, waiting up to `seconds` for it to leave `pending`.
    func wait(_ id: String, seconds: Int) async throws(ServiceError) -> Outcome {
        guard let login = logins[id] else { throw Self.unknown(id) }
        guard login.outcome == .pending, seconds > 0 else { return login.outcome }
        let waiter = UUID()
        return await withCheckedContinuation { continuation in
            logins[id]?.waiters[waiter] = continuation
            Task { [weak self] in
                try? await Task.sleep(for: .seconds(seconds))
                await self?.release(id, waiter)
            }
        }
    }

    /// Finishes a login with what the user pasted: a bare code, `code#state`, or the whole redirect URL.
    func submit(_ id: String, input: String) async throws(ServiceError) -> Outcome {
        guard let login = logins[id] else { throw Self.unknown(id) }
        guard login.outcome == .pending, !login.exchanging else { return login.outcome }
        var parameters = PastedCode.parameters(input)
        if parameters["code"]?.isEmpty ?? true, parameters["error"] == nil {
            throw ServiceError(code: .invalidRequest, message: "that is not a code, code#state, or a redirect URL with a code", profile: login.profile)
        }
        // A bare code, or a URL without state, belongs to this login by construction.
        let state = parameters["state"] ?? login.secrets.state.unredacted
        parameters["state"] = state
        guard ConstantTime.equals(state, login.secrets.state.unredacted) else {
            throw ServiceError(code: .invalidRequest, message: "that code belongs to another login (its state does not match)", profile: login.profile)
        }
        _ = await callback(id, parameters)
        return logins[id]?.outcome ?? .failed("the login ended")
    }

    /// Answers the browser's redirect: a wrong state keeps the login waiting; `error=` ends it; a code is exchanged.
    private func callback(_ id: String, _ query: [String: String]) async -> APIResponse {
        guard let login = logins[id], login.outcome == .pending, !login.exchanging else { return CallbackPage.failed }
        guard let state = query["state"], ConstantTime.equals(state, login.secrets.state.unredacted) else {
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
        logins[id]?.exchanging = true
        let result = await tokenEndpoint.exchange(
            code: code, verifier: login.secrets.verifier, redirectURI: login.redirectURI, state: login.secrets.state,
            settings: login.settings, secret: login.clientSecret)
        switch result {
        case .success(let tokens):
            do {
                try await install(login.profile, login.settings, tokens)
            } catch {
                await finish(id, .failed(error.message))
                return CallbackPage.failed
            }
            logger.info(
                "login succeeded",
                metadata: ["profile": "\(login.profile)", "event": "login_succeeded", "fingerprint": "\(tokens.accessToken.fingerprint)"])
            await finish(id, .succeeded)
            return CallbackPage.signedIn
        case .failure(let failure):
            let hidden = [login.secrets.verifier] + (login.clientSecret.map { [$0] } ?? [])
            await finish(id, .failed("the code exchange failed: \(ServerText.excerpt(failure.message, limit: 600, hiding: hidden))"))
            return CallbackPage.failed
        }
    }

    private func finish(_ id: String, _ outcome: Outcome) async {
        guard var login = logins[id], login.outcome == .pending else { return }
        login.outcome = outcome
        let waiters = login.waiters
        login.waiters = [:]
        logins[id] = login
        if case .failed(let reason) = outcome {
            logger.warning("login failed", metadata: ["profile": "\(login.profile)", "event": "login_failed", "reason": "\(reason)"])
        }
        // Closed before anyone is told, so a client that hears the outcome finds the port closed.
        await login.listener.close()
        for waiter in waiters.values { waiter.resume(returning: outcome) }
    }

    private func release(_ id: String, _ waiter: UUID) {
        guard let continuation = logins[id]?.waiters.removeValue(forKey: waiter) else { return }
        continuation.resume(returning: logins[id]?.outcome ?? .pending)
    }

    private static func authorizeURL(_ settings: OAuthSettings, _ secrets: AuthorizationSecrets, _ redirectURI: String) -> String {
        var parameters = [
            ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI),
            ("code_challenge", secrets.challenge), ("code_challenge_method", "S256"), ("state", secrets.state.unredacted),
        ]
        if !settings.scopes.isEmpty { parameters.append(("scope", settings.scopes.joined(separator: " "))) }
        if settings.scopes.contains("openid") { parameters.append(("nonce", secrets.nonce.unredacted)) }
        parameters += settings.authorizeParameters.map { ($0.name, $0.value) }
        let separator = settings.authorizeURL.contains("?") ? "&" : "?"
        return settings.authorizeURL + separator + FormEncoding.encode(parameters).replacingOccurrences(of: "+", with: "%20")
    }

    private static func unknown(_ id: String) -> ServiceError {
        ServiceError(code: .notFound, message: "no login \(id.prefix(32)): it ended or never existed; start one with `claude-auth login`")
    }
}
