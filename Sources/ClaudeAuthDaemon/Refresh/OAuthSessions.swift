#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
import ClaudeAuthCore
import Logging
import Synchronization

/// Every `oauth` profile's tokens and refresh state. Serves tokens without waiting while they are fresh, and
/// performs refreshes: at most one per profile at a time, the new tokens stored durably before they are served.
final class OAuthSessions: Sendable {
    /// What the sessions take from the world, injected so tests control time and the token endpoint.
    struct Dependencies: Sendable {
        /// The wall-clock time.
        var now: @Sendable () -> Date = { Date() }
        /// A number in `0..<1` spreading refresh times and retries.
        var jitter: @Sendable () -> Double = { Double.random(in: 0..<1) }
        /// Trades a refresh token for new tokens.
        var refresh: @Sendable (_ refreshToken: Secret, _ settings: OAuthSettings, _ clientSecret: Secret?) async -> Result<TokenSet, TokenEndpointFailure>
    }

    /// A change in whether a profile needs a login: what the desktop's sign-in prompts follow.
    enum LoginEvent: Sendable, Equatable {
        /// Nothing can be served until a login: no tokens were found at start, or the server refused the refresh token.
        case needed(profile: String, reason: String)
        /// The profile logged in, logged out, or left the configuration: an earlier need is over.
        case settled(profile: String)
    }

    /// What a refresh request found.
    enum RefreshOutcome: Sendable, Equatable {
        /// It ran or joined a refresh, successful or not.
        case refreshed
        /// The token had already changed from the one named: nothing was done.
        case alreadyReplaced
        /// None could start now: backing off, no refresh token, or no tokens at all.
        case notStarted
    }

    private struct Session {
        var settings: OAuthSettings
        var machine: RefreshStateMachine
        var inFlight: Task<Void, Never>?
    }

    private struct State {
        var sessions: [String: Session] = [:]
        /// Bumped by every login and logout of an identity: a refresh begun before one is discarded.
        var generations: [CredentialIdentity: Int] = [:]
    }

    private let state = Mutex(State())
    /// Serialises writes to the store with the generation check, so a logout cannot interleave with a refresh's write.
    private let storeWrites = Mutex(())
    private let store: CredentialStore
    private let dependencies: Dependencies
    private let environment: [String: String]
    private let logger: Logger
    /// Tells the scheduler that a deadline may have moved.
    private let changed: @Sendable () -> Void
    private let loginEvents: @Sendable (LoginEvent) -> Void

    init(
        store: CredentialStore, environment: [String: String], dependencies: Dependencies, logger: Logger,
        changed: @escaping @Sendable () -> Void, loginEvents: @escaping @Sendable (LoginEvent) -> Void = { _ in }
    ) {
        self.store = store
        self.environment = environment
        self.dependencies = dependencies
        self.logger = logger
        self.changed = changed
        self.loginEvents = loginEvents
    }

    /// Takes the configured `oauth` profiles: a new profile's tokens are read from the store, a profile whose
    /// identity is unchanged keeps its tokens and any refresh in flight, a removed profile is dropped.
    func configure(_ profiles: [Profile]) {
        let oauth = profiles.compactMap { profile -> (String, OAuthSettings)? in
            guard case .oauth(let settings) = profile.credential else { return nil }
            return (profile.name, settings)
        }
        let known = state.withLock { $0.sessions.mapValues(\.settings.identity) }
        var loaded: [String: RefreshStateMachine] = [:]
        for (name, settings) in oauth where known[name] != settings.identity {
            loaded[name] = storedMachine(profile: name, settings: settings)
        }
        state.withLock { state in
            var sessions: [String: Session] = [:]
            for (name, settings) in oauth {
                if var session = state.sessions[name], session.settings.identity == settings.identity {
                    session.settings = settings
                    session.machine.policy = settings.refreshPolicy
                    sessions[name] = session
                } else if let machine = loaded[name] {
                    sessions[name] = Session(settings: settings, machine: machine)
                }
            }
            state.sessions = sessions
        }
        // A profile removed, or now naming another login, ends whatever need it had.
        let configured = Set(oauth.map(\.0))
        for name in known.keys.sorted() where loaded[name] != nil || !configured.contains(name) {
            loginEvents(.settled(profile: name))
        }
        for (name, machine) in loaded.sorted(by: { $0.key < $1.key }) {
            switch machine.phase {
            case .loggedOut: loginEvents(.needed(profile: name, reason: "not logged in"))
            case .loginRequired(let reason): loginEvents(.needed(profile: name, reason: reason))
            case .active: break
            }
        }
        changed()
    }

    /// The tokens to serve for `profile`: at once while fresh; else after a refresh (begun or joined), waiting
    /// for it at most the profile's `token_timeout`; the refresh itself goes on.
    func tokens(for profile: String) async throws(ServiceError) -> TokenSet {
        switch decision(profile, mayRefresh: true) {
        case .serve(let tokens):
            return tokens
        case .fail(let failure):
            throw ServiceError(failure, profile: profile)
        case .refresh:
            _ = await refresh(profile, trigger: .onDemand)
            switch decision(profile, mayRefresh: false) {
            case .serve(let tokens): return tokens
            case .fail(let failure): throw ServiceError(failure, profile: profile)
            case .refresh: throw ServiceError(code: .internalError, message: "the refresh left no decision", profile: profile)
            }
        }
    }

    /// Refreshes `profile` now, or joins the refresh in flight, waiting for it at most the profile's
    /// `token_timeout`; with `ifFingerprint`, only while the token served is still that one, so many clients
    /// reporting one rejected token cause one refresh.
    func refresh(_ profile: String, trigger: RefreshStateMachine.Trigger, ifFingerprint: String? = nil) async -> RefreshOutcome {
        let (task, outcome) = begin(profile, trigger: trigger, ifFingerprint: ifFingerprint)
        if let task, let timeout = state.withLock({ $0.sessions[profile]?.settings.tokenTimeout }) {
            await Self.wait(for: task, upTo: .seconds(timeout))
        }
        return outcome
    }

    /// Waits up to `limit` for the refreshes in flight, so a stop does not abandon a grant the server may
    /// already have processed (its rotated refresh token would be lost).
    func settle(upTo limit: Duration) async {
        let running = state.withLock { $0.sessions.values.compactMap(\.inFlight) }
        let deadline = ContinuousClock.now + limit
        for task in running { await Self.wait(for: task, upTo: max(.zero, deadline - .now)) }
    }

    /// Waits until `task` ends or `limit` passes, whichever is first; the task is not cancelled.
    private static func wait(for task: Task<Void, Never>, upTo limit: Duration) async {
        let resumed = Mutex(false)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resume = { @Sendable in
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume() }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                resume()
            }
            Task {
                await task.value
                timer.cancel()
                resume()
            }
        }
    }

    /// Starts every refresh due now; returns when the next one is due.
    func startDueRefreshes() -> Date? {
        let now = dependencies.now()
        let due = state.withLock { $0.sessions.filter { $0.value.machine.isDue(now: now) }.map(\.key) }
        for profile in due { _ = begin(profile, trigger: .scheduled, ifFingerprint: nil) }
        return state.withLock { $0.sessions.values.compactMap(\.machine.wakeAt).min() }
    }

    /// Starts a refresh, or finds the one in flight: the check and the start are one step under the lock.
    private func begin(_ profile: String, trigger: RefreshStateMachine.Trigger, ifFingerprint: String?) -> (Task<Void, Never>?, RefreshOutcome) {
        state.withLock { state in
            guard var session = state.sessions[profile] else { return (nil, .notStarted) }
            if let ifFingerprint, session.machine.tokens?.accessToken.fingerprint != ifFingerprint { return (nil, .alreadyReplaced) }
            if let running = session.inFlight { return (running, .refreshed) }
            guard let refreshToken = session.machine.beginRefresh(trigger, now: dependencies.now()) else { return (nil, .notStarted) }
            let generation = state.generations[session.settings.identity, default: 0]
            let settings = session.settings
            session.inFlight = Task {
                await self.perform(profile: profile, settings: settings, refreshToken: refreshToken, generation: generation, trigger: trigger)
            }
            state.sessions[profile] = session
            return (session.inFlight, .refreshed)
        }
    }

    /// Stores a login's tokens durably, then serves them; a refresh still in flight from before is discarded.
    func install(_ tokens: TokenSet, profile: String, settings: OAuthSettings) throws(ServiceError) {
        try storeWrites.withLock { _ throws(ServiceError) in
            try save(StoredCredential(identity: settings.identity, profile: profile, tokens: tokens, storedAt: dependencies.now()), profile: profile)
            let jitter = dependencies.jitter()
            state.withLock { state in
                state.generations[settings.identity, default: 0] += 1
                var session = state.sessions[profile] ?? Session(settings: settings, machine: RefreshStateMachine(policy: settings.refreshPolicy))
                session.machine.install(tokens, jitter: jitter)
                state.sessions[profile] = session
            }
        }
        loginEvents(.settled(profile: profile))
        changed()
    }

    /// Forgets a profile's tokens in memory and on disk; returns what was held, for revocation.
    func forget(profile: String, settings: OAuthSettings) throws(ServiceError) -> TokenSet? {
        let held = try storeWrites.withLock { _ throws(ServiceError) -> TokenSet? in
            let held = state.withLock { state -> TokenSet? in
                state.generations[settings.identity, default: 0] += 1
                let held = state.sessions[profile]?.machine.tokens
                state.sessions[profile]?.machine.logOut()
                return held
            }
            do {
                try store.delete(settings.identity)
            } catch {
                throw ServiceError(code: .internalError, message: "cannot delete the stored tokens: \(error)", profile: profile)
            }
            return held
        }
        logger.info("logged out", metadata: ["profile": "\(profile)", "event": "logout"])
        loginEvents(.settled(profile: profile))
        changed()
        return held
    }

    /// The fingerprint of the access token held for `profile`, expired or not.
    func fingerprint(of profile: String) -> String? {
        state.withLock { $0.sessions[profile]?.machine.tokens?.accessToken.fingerprint }
    }

    /// Why a refresh asked for left the token as it was.
    func whyNotRefreshed(_ profile: String) -> ServiceError {
        let now = dependencies.now()
        let machine = state.withLock { $0.sessions[profile]?.machine }
        guard let machine, let tokens = machine.tokens else {
            if case .loginRequired(let reason)? = machine?.phase { return ServiceError(.loginRequired(reason), profile: profile) }
            return ServiceError(.loginRequired("not logged in"), profile: profile)
        }
        guard tokens.refreshToken != nil else {
            return ServiceError(.loginRequired("the server issued no refresh token"), profile: profile)
        }
        var message = machine.isRefreshing ? "the token endpoint has not answered yet; the refresh goes on" : "the token was not refreshed"
        if let last = machine.lastAttempt, !last.succeeded, let detail = last.message { message += ": \(detail)" }
        if let next = machine.nextRefreshAt, next > now { message += "; next try in \(Int(clampingSeconds: next.timeIntervalSince(now), .up)) s" }
        return ServiceError(code: .tokenEndpointUnavailable, message: message, profile: profile)
    }

    /// A profile's state for `status`, without secrets.
    func status(of profile: String) -> (state: ProfileState, fingerprint: String?, message: String?, refresh: RefreshStatus?) {
        let now = dependencies.now()
        guard let session = state.withLock({ $0.sessions[profile] }) else {
            return (.loginRequired, nil, "not logged in: run `claude-auth login --profile \(profile)`", nil)
        }
        let machine = session.machine
        let refresh = machine.tokens.map { tokens in
            RefreshStatus(
                expiresAt: tokens.expiresAt, nextRefreshAt: machine.nextRefreshAt, refreshing: machine.isRefreshing,
                last: machine.lastAttempt.map { .init(at: $0.at, result: $0.succeeded ? "succeeded" : "failed", message: $0.message) },
                consecutiveFailures: machine.consecutiveFailures)
        }
        switch machine.decide(now: now, mayRefresh: false) {
        case .serve(let tokens):
            return (.ready, tokens.accessToken.fingerprint, nil, refresh)
        case .fail(let failure):
            let error = ServiceError(failure, profile: profile)
            return (error.code == .loginRequired ? .loginRequired : .unavailable, machine.tokens?.accessToken.fingerprint, error.message, refresh)
        case .refresh:
            return (.ready, nil, nil, refresh)
        }
    }

    /// The client secret: from `CLAUDE_OAUTH_CLIENT_SECRET`, else `client_secret_file` (relative to
    /// `$CREDENTIALS_DIRECTORY` under systemd's `LoadCredential=`), else none (a public client).
    func clientSecret(of settings: OAuthSettings, profile: String) throws(ServiceError) -> Secret? {
        if let secret = settings.clientSecret { return secret }
        guard var path = settings.clientSecretFile else { return nil }
        if !path.hasPrefix("/"), let directory = environment["CREDENTIALS_DIRECTORY"] { path = directory + "/" + path }
        let bytes: [UInt8]?
        do {
            bytes = try FileIO.readPrivate(path, limit: 16 * 1024)
        } catch {
            throw ServiceError(code: .invalidConfig, message: "\(error)", profile: profile)
        }
        guard let bytes, let secret = APIKeyLoader.normalize(String(decoding: bytes, as: UTF8.self)) else {
            throw ServiceError(code: .invalidConfig, message: "client_secret_file \(path) is missing or empty", profile: profile)
        }
        return Secret(secret)
    }

    private func decision(_ profile: String, mayRefresh: Bool) -> RefreshStateMachine.Decision {
        let now = dependencies.now()
        return state.withLock { state in
            state.sessions[profile]?.machine.decide(now: now, mayRefresh: mayRefresh) ?? .fail(.loginRequired("not logged in"))
        }
    }

    /// One refresh: the token endpoint call, then the store, then memory, unless a login or logout came between.
    private func perform(profile: String, settings: OAuthSettings, refreshToken: Secret, generation: Int, trigger: RefreshStateMachine.Trigger) async {
        let started = dependencies.now()
        var result: Result<TokenSet, TokenEndpointFailure>
        do throws(ServiceError) {
            let secret = try clientSecret(of: settings, profile: profile)
            result = await dependencies.refresh(refreshToken, settings, secret)
            // A server may echo what it was sent in its error text, which goes to the log, `status` and clients.
            let held = [refreshToken, secret, state.withLock { $0.sessions[profile]?.machine.tokens?.accessToken }].compactMap { $0 }
            result = result.mapError { failure in
                var failure = failure
                failure.message = ServerText.excerpt(failure.message, limit: 600, hiding: held)
                return failure
            }
        } catch {
            result = .failure(TokenEndpointFailure(kind: .transient, message: error.message))
        }
        let now = dependencies.now()
        let jitter = dependencies.jitter()
        let identity = settings.identity
        storeWrites.withLock { _ in
            guard state.withLock({ $0.generations[identity, default: 0] }) == generation else {
                state.withLock { $0.sessions[profile]?.inFlight = nil; $0.sessions[profile]?.machine.refreshAbandoned() }
                logger.info("refresh result discarded: the profile logged in or out meanwhile", metadata: ["profile": "\(profile)", "event": "refresh_discarded"])
                return
            }
            var metadata: Logger.Metadata = [
                "profile": "\(profile)", "trigger": "\(trigger == .scheduled ? "scheduled" : "on_demand")",
                "duration_ms": "\(Int(clampingSeconds: now.timeIntervalSince(started) * 1000))",
            ]
            switch result {
            case .success(let fresh):
                let tokens = fresh.keepingRefreshToken(refreshToken)
                // The rotated refresh token goes to disk before the new access token is served: a crash from here on
                // leaves a store the next start can refresh from.
                do throws(ServiceError) {
                    try save(StoredCredential(identity: identity, profile: profile, tokens: tokens, storedAt: now), profile: profile)
                } catch {
                    logger.critical("refreshed tokens not stored; they live in memory only until the next refresh",
                                    metadata: ["profile": "\(profile)", "event": "store_failed", "error": "\(error.message)"])
                }
                let next = state.withLock { state -> Date? in
                    state.sessions[profile]?.inFlight = nil
                    state.sessions[profile]?.machine.refreshSucceeded(tokens, now: now, jitter: jitter)
                    return state.sessions[profile]?.machine.nextRefreshAt
                }
                metadata["event"] = "refresh"
                metadata["fingerprint"] = "\(tokens.accessToken.fingerprint)"
                metadata["rotated"] = "\(fresh.refreshToken != nil)"
                if let expiry = tokens.expiresAt { metadata["expires_in"] = "\(Int(clampingSeconds: expiry.timeIntervalSince(now)))" }
                if let next { metadata["next_refresh_in"] = "\(Int(clampingSeconds: next.timeIntervalSince(now)))" }
                logger.info("refreshed tokens", metadata: metadata)
            case .failure(let failure):
                if failure.kind == .permanent {
                    let reason = "the authorization server refused the refresh token (\(failure.code ?? "invalid_grant")) at \(now)"
                    try? save(StoredCredential(identity: identity, profile: profile, loginRequired: reason, storedAt: now), profile: profile)
                    loginEvents(.needed(profile: profile, reason: reason))
                }
                let machine = state.withLock { state -> RefreshStateMachine? in
                    state.sessions[profile]?.inFlight = nil
                    state.sessions[profile]?.machine.refreshFailed(failure, now: now, jitter: jitter)
                    return state.sessions[profile]?.machine
                }
                metadata["event"] = failure.kind == .permanent ? "refresh_refused" : "refresh_failed"
                metadata["error"] = "\(failure.message)"
                metadata["fingerprint"] = "\(refreshToken.fingerprint)"
                if let machine {
                    metadata["consecutive_failures"] = "\(machine.consecutiveFailures)"
                    if let next = machine.nextRefreshAt { metadata["retry_in"] = "\(Int(clampingSeconds: next.timeIntervalSince(now), .up))" }
                }
                if failure.kind == .permanent {
                    logger.error("the refresh token was refused: a new login is needed", metadata: metadata)
                } else {
                    logger.warning("refresh failed, will retry", metadata: metadata)
                }
            }
        }
        changed()
    }

    private func save(_ credential: StoredCredential, profile: String) throws(ServiceError) {
        do {
            try store.save(credential)
        } catch {
            logger.error("cannot store tokens", metadata: ["profile": "\(profile)", "error": "\(error)"])
            throw ServiceError(code: .internalError, message: "cannot store the tokens: \(error)", profile: profile)
        }
    }

    /// A machine holding what the store has for `settings`' identity.
    private func storedMachine(profile: String, settings: OAuthSettings) -> RefreshStateMachine {
        var machine = RefreshStateMachine(policy: settings.refreshPolicy)
        do {
            let stored = try store.load(settings.identity)
            if let tokens = stored?.tokens {
                machine.install(tokens, jitter: dependencies.jitter())
            } else if let reason = stored?.loginRequired {
                machine.requireLogin(reason: reason)
            }
        } catch {
            logger.error("cannot read stored tokens", metadata: ["profile": "\(profile)", "error": "\(error)"])
            machine.requireLogin(reason: "\(error)")
        }
        return machine
    }
}

extension ServiceError {
    /// The error a client gets for a refresh failure.
    init(_ failure: RefreshStateMachine.Failure, profile: String) {
        switch failure {
        case .loginRequired(let why):
            self.init(code: .loginRequired, message: "\(why): run `claude-auth login --profile \(profile)`", profile: profile)
        case .unavailable(let why):
            self.init(code: .tokenEndpointUnavailable, message: why, profile: profile)
        }
    }
}
