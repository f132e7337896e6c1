#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
import ClaudeAuthCore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Every `oauth` profile's tokens, each in a ``RefreshStateMachine``, and the refreshes those machines start.
///
/// It executes what the machines decide: serves tokens without waiting while they are fresh, queues each refresh
/// for the ``RefreshScheduler`` to run, parks the requests that must wait for one, and stores every outcome on the
/// ``StoreLane`` before it is served. Its lock guards a few assignments; nothing is called under it.
final class OAuthSessions: Sendable {
    /// What the sessions take from the world, injected so tests control time and the token endpoint.
    struct Dependencies: Sendable {
        /// The wall-clock time.
        var now: @Sendable () -> Date = { Date() }
        /// A number in `0..<1` spreading refresh times and retries.
        var jitter: @Sendable () -> Double = { Double.random(in: 0..<1) }
        /// Trades a refresh token for new tokens.
        var refresh: @Sendable (_ refreshToken: Secret, _ settings: OAuthSettings, _ clientSecret: Secret?) async -> Result<TokenSet, TokenEndpointFailure>
        /// Calls `expired` once `seconds` have passed, unless the function returned is called first: a waiting
        /// request's deadline. By default one task scheduled on an event loop.
        var deadline: @Sendable (_ seconds: TimeInterval, _ expired: @escaping @Sendable () -> Void) -> @Sendable () -> Void = { seconds, expired in
            let scheduled = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .milliseconds(Int64((seconds * 1000).rounded(.up))), expired)
            return { scheduled.cancel() }
        }
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
        /// It ran or joined a refresh that yielded new tokens.
        case refreshed
        /// The token had already changed from the one named: nothing was done.
        case alreadyReplaced
        /// None could start now: backing off, no refresh token, or no tokens at all.
        case notStarted
        /// The refresh failed, or has not ended within the profile's `token_timeout`.
        case failed(ServiceError)
    }

    /// A profile's state for `status`, without secrets.
    struct Status: Sendable, Equatable {
        var state: ProfileState
        var fingerprint: String?
        var message: String?
        var refresh: RefreshStatus?
    }

    /// A refresh a machine started, for the scheduler to run with ``perform(_:)``.
    struct RefreshJob: Sendable {
        var profile: String
        var settings: OAuthSettings
        var ticket: RefreshStateMachine.Ticket
    }

    /// A request waiting for a refresh to end.
    private struct Waiter {
        var continuation: CheckedContinuation<Void, Never>
        var cancelDeadline: (@Sendable () -> Void)?
    }

    /// The official SDKs' profile an `oauth` profile keeps fresh, and the `base_url` it names.
    struct SDKTarget: Sendable, Equatable {
        var name: String
        var baseURL: String
    }

    private struct Session {
        var settings: OAuthSettings
        var machine: RefreshStateMachine
        /// The SDK profile files mirroring the token served, and why they last failed to be written.
        var sdk: SDKTarget?
        var sdkError: String?
        /// Resumed when the refresh in flight ends, or each at its deadline.
        var waiters: [Int: Waiter] = [:]

        /// Takes out the waiters once no refresh is in flight: they are to be resumed, after the lock.
        mutating func idleWaiters() -> [Waiter] {
            guard !machine.isRefreshing else { return [] }
            defer { waiters = [:] }
            return Array(waiters.values)
        }
    }

    private struct State {
        var sessions: [String: Session] = [:]
        var waitersAdmitted = 0
    }

    /// The refreshes started, in order: the scheduler runs each as a child task.
    let refreshes: AsyncStream<RefreshJob>
    private let queue: AsyncStream<RefreshJob>.Continuation
    private let state = Mutex(State())
    private let store: CredentialStore
    private let sdkFiles: SDKProfileFiles
    private let lane: StoreLane
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
        self.sdkFiles = SDKProfileFiles(directory: SDKProfileFiles.directory(environment: environment))
        self.lane = .shared
        self.environment = environment
        self.dependencies = dependencies
        self.logger = logger
        self.changed = changed
        self.loginEvents = loginEvents
        (refreshes, queue) = AsyncStream.makeStream(of: RefreshJob.self)
    }

    /// Takes the configured `oauth` profiles: a new profile's tokens are read from the store, a profile whose
    /// identity is unchanged keeps its tokens and any refresh in flight, a removed profile is dropped.
    func configure(_ profiles: [Profile]) {
        let oauth = profiles.compactMap { profile -> (String, OAuthSettings, SDKTarget?)? in
            guard case .oauth(let settings) = profile.credential else { return nil }
            return (profile.name, settings, profile.sdkProfile.map { SDKTarget(name: $0, baseURL: profile.upstream.baseURL) })
        }
        let known = state.withLock { $0.sessions.mapValues(\.settings.identity) }
        var loaded: [String: RefreshStateMachine] = [:]
        for (name, settings, _) in oauth where known[name] != settings.identity {
            loaded[name] = storedMachine(profile: name, settings: settings)
        }
        let (released, sdkChanges) = state.withLock { state -> ([Waiter], [(old: SDKTarget?, profile: String?)]) in
            var sessions: [String: Session] = [:]
            var sdkChanges: [(old: SDKTarget?, profile: String?)] = []
            for (name, settings, sdk) in oauth {
                let old = state.sessions[name]
                if var session = state.sessions.removeValue(forKey: name), session.settings.identity == settings.identity {
                    session.settings = settings
                    session.machine.policy = settings.refreshPolicy
                    session.sdk = sdk
                    sessions[name] = session
                } else if let machine = loaded[name] {
                    sessions[name] = Session(settings: settings, machine: machine, sdk: sdk)
                }
                if old?.sdk != sdk || loaded[name] != nil { sdkChanges.append((old?.sdk, name)) }
            }
            for (name, session) in state.sessions where sessions[name] == nil && session.sdk != nil {
                sdkChanges.append((session.sdk, nil))
            }
            defer { state.sessions = sessions }
            return (state.sessions.values.flatMap(\.waiters.values), sdkChanges)
        }
        Self.resume(released)
        // The SDK files follow the configuration: a name dropped loses its files, a name given gets the token held.
        if !sdkChanges.isEmpty {
            lane.submit { [self] in
                for change in sdkChanges {
                    if let old = change.old, old.name != state.withLock({ state in change.profile.flatMap { state.sessions[$0]?.sdk?.name } }) {
                        removeSDKFiles(old.name, profile: change.profile)
                    }
                    if let profile = change.profile { mirrorToSDK(profile) }
                }
            }
        }
        // A profile removed, or now naming another login, ends whatever need it had.
        let configured = Set(oauth.map(\.0))
        for name in known.keys.sorted() where loaded[name] != nil || !configured.contains(name) {
            loginEvents(.settled(profile: name))
        }
        for (name, machine) in loaded.sorted(by: { $0.key < $1.key }) {
            switch machine.phase {
            case .loggedOut: loginEvents(.needed(profile: name, reason: RefreshStateMachine.notLoggedIn))
            case .loginRequired(let reason): loginEvents(.needed(profile: name, reason: reason))
            case .active: break
            }
        }
        changed()
    }

    /// The tokens of `profile` when they can be served as they are, with no refresh to start or wait for; this
    /// common case reads and changes nothing, so the socket server answers it on the event loop.
    func readyTokens(for profile: String, minimumValidity: TimeInterval? = nil) -> TokenSet? {
        guard case .serve(let tokens) = decision(profile, mayRefresh: true, minimumValidity: minimumValidity) else { return nil }
        return tokens
    }

    /// The tokens to serve for `profile`: at once while fresh and no refresh is in flight; else after the refresh
    /// (begun or joined), waiting for it at most the profile's `token_timeout`, or less while the tokens held are
    /// still valid; the refresh itself goes on.
    func tokens(for profile: String, minimumValidity: TimeInterval? = nil) async throws(ServiceError) -> TokenSet {
        if let tokens = readyTokens(for: profile, minimumValidity: minimumValidity) { return tokens }
        let now = dependencies.now()
        let (decision, job, timeout) = update(profile) { session -> (RefreshStateMachine.Decision, RefreshJob?, TimeInterval) in
            let decision = session.machine.decide(now: now, minimumValidity: minimumValidity)
            var job: RefreshJob?
            if case .refresh = decision, let ticket = session.machine.beginRefresh(.onDemand, now: now) {
                job = RefreshJob(profile: profile, settings: session.settings, ticket: ticket)
            }
            return (decision, job, TimeInterval(session.settings.tokenTimeout))
        } ?? (.fail(.loginRequired(RefreshStateMachine.notLoggedIn)), nil, 0)
        if let job { queue.yield(job) }
        switch decision {
        case .serve(let tokens):
            return tokens
        case .fail(let failure):
            throw ServiceError(failure, profile: profile)
        case .refresh:
            await waitForRefresh(profile, upTo: timeout)
        case .waitForRefresh(let seconds):
            await waitForRefresh(profile, upTo: min(seconds, timeout))
        }
        switch self.decision(profile, mayRefresh: false) {
        case .serve(let tokens): return tokens
        case .fail(let failure): throw ServiceError(failure, profile: profile)
        case .refresh, .waitForRefresh: throw ServiceError(code: .internalError, message: "the refresh left no decision", profile: profile)
        }
    }

    /// Refreshes `profile` now, or joins the refresh in flight, waiting for it at most the profile's
    /// `token_timeout`; with `ifFingerprint`, only while the token served is still that one, so many clients
    /// reporting one rejected token cause one refresh.
    func refresh(_ profile: String, trigger: RefreshStateMachine.Trigger, ifFingerprint: String? = nil) async -> RefreshOutcome {
        enum Start { case replaced, notStarted, joined(before: String?, timeout: TimeInterval, job: RefreshJob?) }
        let now = dependencies.now()
        let start = update(profile) { session -> Start in
            let held = session.machine.tokens?.accessToken.fingerprint
            if let ifFingerprint, held != ifFingerprint { return .replaced }
            var job: RefreshJob?
            if !session.machine.isRefreshing {
                guard let ticket = session.machine.beginRefresh(trigger, now: now) else { return .notStarted }
                job = RefreshJob(profile: profile, settings: session.settings, ticket: ticket)
            }
            return .joined(before: held, timeout: TimeInterval(session.settings.tokenTimeout), job: job)
        } ?? .notStarted
        switch start {
        case .replaced:
            return .alreadyReplaced
        case .notStarted:
            return .notStarted
        case .joined(let before, let timeout, let job):
            if let job { queue.yield(job) }
            await waitForRefresh(profile, upTo: timeout)
            return fingerprint(of: profile) != before ? .refreshed : .failed(whyNotRefreshed(profile))
        }
    }

    /// Starts every refresh due now; returns when the next one is due.
    func startDueRefreshes() -> Date? {
        let now = dependencies.now()
        let (jobs, next) = state.withLock { state -> ([RefreshJob], Date?) in
            var jobs: [RefreshJob] = []
            for profile in state.sessions.keys.sorted() {
                guard let ticket = state.sessions[profile]?.machine.beginRefresh(.scheduled, now: now), let settings = state.sessions[profile]?.settings
                else { continue }
                jobs.append(RefreshJob(profile: profile, settings: settings, ticket: ticket))
            }
            return (jobs, state.sessions.values.compactMap(\.machine.wakeAt).min())
        }
        for job in jobs { queue.yield(job) }
        return next
    }

    /// Stores a login's tokens durably, then serves them for every profile of that identity; a refresh in flight
    /// from before is discarded.
    func install(_ tokens: TokenSet, profile: String, settings: OAuthSettings) async throws(ServiceError) {
        let credential = StoredCredential(identity: settings.identity, profile: profile, tokens: tokens, storedAt: dependencies.now())
        let jitter = dependencies.jitter()
        let saved = await lane.run { [self] () -> Result<Void, FileError> in
            do throws(FileError) {
                try store.save(credential)
            } catch {
                return .failure(error)
            }
            let released = state.withLock { state -> [Waiter] in
                if state.sessions[profile] == nil {
                    state.sessions[profile] = Session(settings: settings, machine: RefreshStateMachine(policy: settings.refreshPolicy))
                }
                return Self.mutate(&state, identity: settings.identity) { $0.install(tokens, jitter: jitter) }
            }
            Self.resume(released)
            mirrorToSDK(profile)
            return .success(())
        }
        if case .failure(let error) = saved { throw storeFailure(error, profile: profile) }
        loginEvents(.settled(profile: profile))
        changed()
    }

    /// Forgets a profile's tokens in memory and on disk, for every profile of that identity; returns what was held,
    /// for revocation. A refresh in flight is discarded.
    func forget(profile: String, settings: OAuthSettings) async throws(ServiceError) -> TokenSet? {
        let (held, deleted) = await lane.run { [self] () -> (TokenSet?, Result<Void, FileError>) in
            let (held, released) = state.withLock { state in
                (state.sessions[profile]?.machine.tokens, Self.mutate(&state, identity: settings.identity) { $0.logOut() })
            }
            Self.resume(released)
            mirrorToSDK(profile)
            do throws(FileError) {
                try store.delete(settings.identity)
                return (held, .success(()))
            } catch {
                return (held, .failure(error))
            }
        }
        if case .failure(let error) = deleted {
            throw ServiceError(code: .internalError, message: "cannot delete the stored tokens: \(error)", profile: profile)
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

    /// A profile's state for `status`, without secrets.
    func status(of profile: String) -> Status {
        let now = dependencies.now()
        guard let machine = state.withLock({ $0.sessions[profile]?.machine }) else {
            return Status(state: .loginRequired, message: "\(RefreshStateMachine.notLoggedIn): run `claude-auth login --profile \(profile)`")
        }
        let refresh = machine.tokens.map { tokens in
            RefreshStatus(
                expiresAt: tokens.expiresAt, nextRefreshAt: machine.nextRefreshAt, refreshing: machine.isRefreshing,
                last: machine.lastAttempt.map { .init(at: $0.at, result: $0.succeeded ? "succeeded" : "failed", message: $0.message) },
                consecutiveFailures: machine.consecutiveFailures)
        }
        switch machine.decide(now: now, mayRefresh: false) {
        case .serve(let tokens):
            return Status(state: .ready, fingerprint: tokens.accessToken.fingerprint, refresh: refresh)
        case .fail(let failure):
            let error = ServiceError(failure, profile: profile)
            return Status(
                state: error.code == .loginRequired ? .loginRequired : .unavailable, fingerprint: machine.tokens?.accessToken.fingerprint,
                message: error.message, refresh: refresh)
        case .refresh, .waitForRefresh:
            return Status(state: .ready, refresh: refresh)
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

    /// One refresh: the token endpoint call, then its outcome stored, then served, unless a login or logout came
    /// between. Run by the scheduler.
    func perform(_ job: RefreshJob) async {
        let (profile, ticket) = (job.profile, job.ticket)
        let result = await exchange(job)
        let now = dependencies.now()
        let jitter = dependencies.jitter()
        let step = update(profile) { $0.machine.answered(ticket, result, now: now, jitter: jitter) } ?? .discarded
        var metadata: Logger.Metadata = [
            "profile": "\(profile)", "trigger": "\(ticket.trigger == .scheduled ? "scheduled" : "on_demand")",
            "duration_ms": "\(Int(clampingSeconds: now.timeIntervalSince(ticket.startedAt) * 1000))",
        ]
        switch step {
        case .discarded:
            return discarded(profile)
        case .failed:
            guard case .failure(let failure) = result else { break }
            let machine = state.withLock { $0.sessions[profile]?.machine }
            metadata["event"] = "refresh_failed"
            metadata["error"] = "\(failure.message)"
            metadata["fingerprint"] = "\(ticket.refreshToken.fingerprint)"
            if let machine {
                metadata["consecutive_failures"] = "\(machine.consecutiveFailures)"
                if let next = machine.nextRefreshAt { metadata["retry_in"] = "\(Int(clampingSeconds: next.timeIntervalSince(now), .up))" }
            }
            logger.warning("refresh failed, will retry", metadata: metadata)
        case .store(let tokens):
            // The rotated refresh token goes to disk before the new access token is served: a crash from here on
            // leaves a store the next start can refresh from.
            let credential = StoredCredential(identity: job.settings.identity, profile: profile, tokens: tokens, storedAt: now)
            guard let saved = await storeOutcome(credential, of: job, now: now, jitter: jitter) else { return discarded(profile) }
            if case .failure(let error) = saved {
                logger.critical("refreshed tokens not stored; they live in memory only until the next refresh",
                                metadata: ["profile": "\(profile)", "event": "store_failed", "error": "\(error)"])
            }
            metadata["event"] = "refresh"
            metadata["fingerprint"] = "\(tokens.accessToken.fingerprint)"
            if case .success(let fresh) = result { metadata["rotated"] = "\(fresh.refreshToken != nil)" }
            if let expiry = tokens.expiresAt { metadata["expires_in"] = "\(Int(clampingSeconds: expiry.timeIntervalSince(now)))" }
            if let next = state.withLock({ $0.sessions[profile]?.machine.nextRefreshAt }) {
                metadata["next_refresh_in"] = "\(Int(clampingSeconds: next.timeIntervalSince(now)))"
            }
            logger.info("refreshed tokens", metadata: metadata)
        case .storeLoginRequired(let reason):
            let credential = StoredCredential(identity: job.settings.identity, profile: profile, loginRequired: reason, storedAt: now)
            guard let saved = await storeOutcome(credential, of: job, now: now, jitter: jitter) else { return discarded(profile) }
            if case .failure(let error) = saved {
                logger.error("cannot store that a login is needed", metadata: ["profile": "\(profile)", "error": "\(error)"])
            }
            loginEvents(.needed(profile: profile, reason: reason))
            metadata["event"] = "refresh_refused"
            metadata["fingerprint"] = "\(ticket.refreshToken.fingerprint)"
            if case .failure(let failure) = result { metadata["error"] = "\(failure.message)" }
            logger.error("the refresh token was refused: a new login is needed", metadata: metadata)
        }
        changed()
    }

    /// Calls the token endpoint for `job`; a server's error text is stripped of what it may echo.
    private func exchange(_ job: RefreshJob) async -> Result<TokenSet, TokenEndpointFailure> {
        let secret = await lane.run { [self] in Result { () throws(ServiceError) in try clientSecret(of: job.settings, profile: job.profile) } }
        switch secret {
        case .failure(let error):
            return .failure(TokenEndpointFailure(kind: .transient, message: error.message))
        case .success(let secret):
            let held = [job.ticket.refreshToken, secret, heldAccessToken(job.profile)].compactMap { $0 }
            return await dependencies.refresh(job.ticket.refreshToken, job.settings, secret).mapError { failure in
                var failure = failure
                failure.message = ServerText.excerpt(failure.message, limit: 600, hiding: held)
                return failure
            }
        }
    }

    /// Writes what a refresh's answer asked to store, then lets the machine act on it; nil when the ticket is no
    /// longer the refresh in flight, before or after the write. The check, the write and the update are one job on
    /// the lane, so a login's or logout's own write cannot come between them.
    private func storeOutcome(_ credential: StoredCredential, of job: RefreshJob, now: Date, jitter: Double) async -> Result<Void, FileError>? {
        await lane.run { [self] () -> Result<Void, FileError>? in
            guard state.withLock({ $0.sessions[job.profile]?.machine.isCurrent(job.ticket) }) == true else { return nil }
            var saved = Result<Void, FileError>.success(())
            do throws(FileError) {
                try store.save(credential)
            } catch {
                saved = .failure(error)
            }
            let kept = update(job.profile) { $0.machine.stored(job.ticket, now: now, jitter: jitter) } ?? false
            if kept, credential.tokens != nil { mirrorToSDK(job.profile) }
            return kept ? saved : nil
        }
    }

    /// Makes `profile`'s SDK files hold the token it holds, or removes them when it holds none. Runs on the lane.
    private func mirrorToSDK(_ profile: String) {
        guard let (target, tokens) = state.withLock({ state in state.sessions[profile].flatMap { session in session.sdk.map { ($0, session.machine.tokens) } } })
        else { return }
        var failure: FileError?
        do throws(FileError) {
            if let tokens {
                try sdkFiles.write(target.name, token: tokens.accessToken, expiresAt: tokens.expiresAt, baseURL: target.baseURL, owner: profile)
            } else {
                try sdkFiles.remove(target.name)
            }
        } catch {
            failure = error
            logger.error(
                "cannot keep the SDK profile files", metadata: ["profile": "\(profile)", "sdk_profile": "\(target.name)", "event": "sdk_profile_failed", "error": "\(error)"])
        }
        state.withLock { state in
            if state.sessions[profile]?.sdk == target { state.sessions[profile]?.sdkError = failure?.description }
        }
    }

    /// Removes the SDK files of a name `profile` (nil: a profile removed) no longer owns. Runs on the lane.
    private func removeSDKFiles(_ name: String, profile: String?) {
        do throws(FileError) {
            try sdkFiles.remove(name)
        } catch {
            logger.error("cannot remove the SDK profile files", metadata: ["sdk_profile": "\(name)", "event": "sdk_profile_failed", "error": "\(error)"])
        }
    }

    /// The SDK profile files kept for `profile`, for `status`.
    func sdkStatus(of profile: String) -> SDKProfileStatus? {
        state.withLock { state in
            state.sessions[profile].flatMap { session in
                session.sdk.map { SDKProfileStatus(name: $0.name, credentialsFile: sdkFiles.credentialsPath($0.name), error: session.sdkError) }
            }
        }
    }

    private func discarded(_ profile: String) {
        logger.info("refresh result discarded: the profile logged in or out meanwhile", metadata: ["profile": "\(profile)", "event": "refresh_discarded"])
        changed()
    }

    private func heldAccessToken(_ profile: String) -> Secret? {
        state.withLock { $0.sessions[profile]?.machine.tokens?.accessToken }
    }

    /// Why a refresh asked for left the token as it was.
    func whyNotRefreshed(_ profile: String) -> ServiceError {
        let now = dependencies.now()
        let machine = state.withLock { $0.sessions[profile]?.machine }
        guard let machine, let tokens = machine.tokens else {
            if case .loginRequired(let reason)? = machine?.phase { return ServiceError(.loginRequired(reason), profile: profile) }
            return ServiceError(.loginRequired(RefreshStateMachine.notLoggedIn), profile: profile)
        }
        guard tokens.refreshToken != nil else {
            return ServiceError(.loginRequired("the server issued no refresh token"), profile: profile)
        }
        var message = machine.isRefreshing ? "the token endpoint has not answered yet; the refresh goes on" : "the token was not refreshed"
        if let last = machine.lastAttempt, !last.succeeded, let detail = last.message { message += ": \(detail)" }
        message += machine.retryNote(now: now, prefix: "; ")
        return ServiceError(code: .tokenEndpointUnavailable, message: message, profile: profile)
    }

    private func decision(_ profile: String, mayRefresh: Bool, minimumValidity: TimeInterval? = nil) -> RefreshStateMachine.Decision {
        let now = dependencies.now()
        return state.withLock { state in
            state.sessions[profile]?.machine.decide(now: now, mayRefresh: mayRefresh, minimumValidity: minimumValidity)
                ?? .fail(.loginRequired(RefreshStateMachine.notLoggedIn))
        }
    }

    /// Parks the caller until the refresh in flight for `profile` ends, or `seconds` pass; returns at once when
    /// none is in flight. One deadline is scheduled per waiter.
    private func waitForRefresh(_ profile: String, upTo seconds: TimeInterval) async {
        guard seconds > 0 else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state -> Int? in
                guard state.sessions[profile]?.machine.isRefreshing == true else { return nil }
                state.waitersAdmitted += 1
                state.sessions[profile]?.waiters[state.waitersAdmitted] = Waiter(continuation: continuation)
                return state.waitersAdmitted
            }
            guard let id = admitted else { return continuation.resume() }
            let cancel = dependencies.deadline(seconds) { self.release(profile, waiter: id) }
            let armed = state.withLock { state -> Bool in
                guard state.sessions[profile]?.waiters[id] != nil else { return false }
                state.sessions[profile]?.waiters[id]?.cancelDeadline = cancel
                return true
            }
            if !armed { cancel() }
        }
    }

    private func release(_ profile: String, waiter id: Int) {
        let waiter = state.withLock { $0.sessions[profile]?.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume()
    }

    /// Runs `body` on `profile`'s session under the lock, then resumes its waiters if no refresh is in flight any
    /// more; nil when the profile has no session.
    private func update<T>(_ profile: String, _ body: (inout Session) -> T) -> T? {
        let (result, released) = state.withLock { state -> (T?, [Waiter]) in
            guard var session = state.sessions.removeValue(forKey: profile) else { return (nil, []) }
            defer { state.sessions[profile] = session }
            let result = body(&session)
            return (result, session.idleWaiters())
        }
        Self.resume(released)
        return result
    }

    /// Applies `change` to every machine of `identity`; returns the waiters to resume.
    private static func mutate(_ state: inout State, identity: CredentialIdentity, _ change: (inout RefreshStateMachine) -> Void) -> [Waiter] {
        var released: [Waiter] = []
        for name in state.sessions.keys where state.sessions[name]?.settings.identity == identity {
            guard var session = state.sessions.removeValue(forKey: name) else { continue }
            change(&session.machine)
            released += session.idleWaiters()
            state.sessions[name] = session
        }
        return released
    }

    private static func resume(_ waiters: [Waiter]) {
        for waiter in waiters {
            waiter.cancelDeadline?()
            waiter.continuation.resume()
        }
    }

    private func storeFailure(_ error: FileError, profile: String) -> ServiceError {
        logger.error("cannot store tokens", metadata: ["profile": "\(profile)", "error": "\(error)"])
        return ServiceError(code: .internalError, message: "cannot store the tokens: \(error)", profile: profile)
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
