#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

/// One OAuth profile's tokens and refresh timing (DESIGN §6), as a value driven by events and wall-clock instants.
///
/// It performs no I/O and reads no clock: the caller passes `now` and a jitter in `0..<1`. A refresh it starts is
/// a ``Ticket``, which the caller performs and hands back with the answer; the machine says what follows. A login
/// or a logout ends the refresh in flight, so an answer to its ticket is discarded. Deadlines are wall-clock
/// instants, so after a suspend or a clock jump the next look at `now` finds overdue work due at once.
public struct RefreshStateMachine: Sendable, Equatable {
    /// Where the profile stands.
    public enum Phase: Sendable, Equatable {
        /// No tokens: the profile was never logged in, or logged out.
        case loggedOut
        /// Tokens are held.
        case active(TokenSet)
        /// The grant is dead; only a new login helps.
        case loginRequired(reason: String)
    }

    /// What asks for a refresh.
    public enum Trigger: Sendable, Equatable {
        /// The schedule: the refresh time, or a retry after backoff, has come.
        case scheduled
        /// A request found too little validity left, or a client reported the token rejected.
        case onDemand
    }

    /// A refresh the machine started, to be performed by the caller and handed back with its answer.
    public struct Ticket: Sendable, Equatable {
        /// Tells this machine's refreshes apart: only the one in flight is answered.
        public var number: Int
        /// The refresh token to send.
        public var refreshToken: Secret
        /// What asked for it.
        public var trigger: Trigger
        /// When it started.
        public var startedAt: Date
    }

    /// What a request for the token should get now.
    public enum Decision: Sendable, Equatable {
        /// These tokens.
        case serve(TokenSet)
        /// Nothing yet: start a refresh unless one is in flight, wait for it up to the profile's `token_timeout`,
        /// then decide again with `mayRefresh` false.
        case refresh
        /// A refresh is in flight and will replace the tokens held, which a server may revoke the moment it answers:
        /// wait for it up to `seconds`, then decide again with `mayRefresh` false.
        case waitForRefresh(seconds: TimeInterval)
        /// An error.
        case fail(Failure)
    }

    /// Why no token can be served.
    public enum Failure: Sendable, Equatable {
        /// A new login is needed.
        case loginRequired(String)
        /// The token has expired and the token endpoint is failing for now.
        case unavailable(String)
    }

    /// What an answer to a refresh leads to.
    public enum Step: Sendable, Equatable {
        /// The ticket is not the refresh in flight (a login or logout came between): nothing to do.
        case discarded
        /// New tokens, the refresh token kept when none was sent: store them durably, then report ``stored(_:now:jitter:)``.
        /// Until then the refresh stays in flight, and requests wait.
        case store(TokenSet)
        /// The grant is dead: store that a login is needed, then report ``stored(_:now:jitter:)``.
        case storeLoginRequired(reason: String)
        /// A transient failure, recorded: the refresh has ended, and the next try is planned.
        case failed
    }

    /// The outcome of the last refresh attempt.
    public struct Attempt: Sendable, Equatable {
        /// When it ended.
        public var at: Date
        /// Whether it yielded tokens.
        public var succeeded: Bool
        /// Why it failed, without secrets.
        public var message: String?
    }

    /// What clients are told when there are no tokens at all.
    public static let notLoggedIn = "not logged in"

    /// The timing rules.
    public var policy: RefreshPolicy
    /// Where the profile stands.
    public private(set) var phase: Phase = .loggedOut
    /// When the next refresh or retry is due; nil when none is planned.
    public private(set) var nextRefreshAt: Date?
    /// The last refresh attempt.
    public private(set) var lastAttempt: Attempt?
    /// Transient failures since the last success.
    public private(set) var consecutiveFailures = 0
    /// The refresh in flight, if any.
    public private(set) var inFlight: Ticket?
    /// How long the last successful refresh took, from its start to the server's answer.
    public private(set) var lastLatency: TimeInterval?
    /// The answer held while it is being stored.
    private var answer: Step?
    private var ticketsIssued = 0

    /// A machine for a profile without tokens.
    public init(policy: RefreshPolicy) {
        self.policy = policy
    }

    /// The tokens held, if any.
    public var tokens: TokenSet? {
        if case .active(let tokens) = phase { return tokens }
        return nil
    }

    /// Whether a refresh is in flight.
    public var isRefreshing: Bool {
        inFlight != nil
    }

    /// Takes tokens from a login or from the store; a refresh in flight is discarded, and the schedule starts over.
    public mutating func install(_ tokens: TokenSet, jitter: Double) {
        endRefresh()
        phase = .active(tokens)
        consecutiveFailures = 0
        nextRefreshAt = schedule(tokens, jitter: jitter)
    }

    /// Marks the grant dead, e.g. from a record in the store.
    public mutating func requireLogin(reason: String) {
        endRefresh()
        phase = .loginRequired(reason: reason)
        nextRefreshAt = nil
    }

    /// Forgets the tokens (logout); a refresh in flight is discarded.
    public mutating func logOut() {
        endRefresh()
        phase = .loggedOut
        nextRefreshAt = nil
        consecutiveFailures = 0
    }

    /// What a request should get at `now`; with `mayRefresh` false (after waiting), never a refresh or a wait.
    /// A request asking for tokens valid `minimumValidity` seconds more is refreshed for first; when the tokens'
    /// whole usable lifetime is shorter than that, it asks for half the lifetime instead.
    public func decide(now: Date, mayRefresh: Bool = true, minimumValidity: TimeInterval? = nil) -> Decision {
        switch phase {
        case .loggedOut:
            return .fail(.loginRequired(Self.notLoggedIn))
        case .loginRequired(let reason):
            return .fail(.loginRequired(reason))
        case .active(let tokens):
            let remaining = tokens.expiresAt.map { policy.usableUntil(issuedAt: tokens.issuedAt, expiresAt: $0).timeIntervalSince(now) }
            if mayRefresh, let inFlight, isFresh(tokens, now: now, asked: minimumValidity) {
                return .waitForRefresh(seconds: inFlightWait(inFlight, now: now))
            }
            if mayRefresh, inFlight != nil { return .refresh }
            if isFresh(tokens, now: now, asked: minimumValidity) { return .serve(tokens) }
            if mayRefresh && canStart(.onDemand, now: now) { return .refresh }
            if let remaining, remaining > 0 { return .serve(tokens) }
            guard tokens.refreshToken != nil else {
                return .fail(.loginRequired("the access token expired and the server issued no refresh token"))
            }
            if inFlight != nil {
                return .fail(.unavailable("the access token expired and cannot be refreshed now (the token endpoint has not answered yet)"))
            }
            let why = lastAttempt?.message ?? "the token endpoint is failing"
            return .fail(.unavailable("the access token expired and cannot be refreshed now (\(why))\(retryNote(now: now, prefix: ", "))"))
        }
    }

    /// When the next try is, for messages: `", next try in 12 s"` with `prefix` ", ", or nothing when none is planned.
    public func retryNote(now: Date, prefix: String) -> String {
        guard let next = nextRefreshAt, next > now else { return "" }
        return "\(prefix)next try in \(Int(clampingSeconds: next.timeIntervalSince(now), .up)) s"
    }

    /// Whether a `.scheduled` refresh is due at `now`.
    public func isDue(now: Date) -> Bool {
        canStart(.scheduled, now: now)
    }

    /// When the scheduler should look again: the planned refresh, unless one is in flight.
    public var wakeAt: Date? {
        isRefreshing ? nil : nextRefreshAt
    }

    /// Starts a refresh if `trigger` allows one at `now`.
    public mutating func beginRefresh(_ trigger: Trigger, now: Date) -> Ticket? {
        guard canStart(trigger, now: now), let refreshToken = tokens?.refreshToken else { return nil }
        ticketsIssued += 1
        let ticket = Ticket(number: ticketsIssued, refreshToken: refreshToken, trigger: trigger, startedAt: now)
        inFlight = ticket
        return ticket
    }

    /// Takes the token endpoint's answer to `ticket`: tokens and a dead grant are to be stored first; a transient
    /// failure backs off.
    public mutating func answered(_ ticket: Ticket, _ result: Result<TokenSet, TokenEndpointFailure>, now: Date, jitter: Double) -> Step {
        guard inFlight == ticket, answer == nil else { return .discarded }
        let step: Step
        switch result {
        case .success(let fresh):
            step = .store(fresh.keepingRefreshToken(ticket.refreshToken))
        case .failure(let failure):
            lastAttempt = Attempt(at: now, succeeded: false, message: failure.message)
            switch failure.kind {
            case .permanent:
                step = .storeLoginRequired(reason: "the authorization server refused the refresh token (\(failure.code ?? "invalid_grant"))")
            case .transient:
                endRefresh()
                consecutiveFailures += 1
                let delay = policy.backoff(failures: consecutiveFailures, retryAfter: failure.retryAfter, jitter: jitter)
                nextRefreshAt = now.addingTimeInterval(delay)
                return .failed
            }
        }
        answer = step
        return step
    }

    /// Reports that what ``answered(_:_:now:jitter:)`` asked to store is stored (or could not be: it is acted on
    /// anyway); false when a login or logout came between and the refresh's outcome is no longer wanted.
    public mutating func stored(_ ticket: Ticket, now: Date, jitter: Double) -> Bool {
        guard inFlight == ticket, let answer else { return false }
        switch answer {
        case .store(let tokens):
            lastAttempt = Attempt(at: now, succeeded: true)
            lastLatency = max(0, now.timeIntervalSince(ticket.startedAt))
            install(tokens, jitter: jitter)
        case .storeLoginRequired(let reason):
            requireLogin(reason: reason)
        case .discarded, .failed:
            endRefresh()
        }
        return true
    }

    /// Whether `ticket` is the refresh in flight.
    public func isCurrent(_ ticket: Ticket) -> Bool {
        inFlight == ticket
    }

    private mutating func endRefresh() {
        inFlight = nil
        answer = nil
    }

    private func isFresh(_ tokens: TokenSet, now: Date, asked: TimeInterval?) -> Bool {
        guard let expiresAt = tokens.expiresAt else { return true }
        let usableUntil = policy.usableUntil(issuedAt: tokens.issuedAt, expiresAt: expiresAt)
        // A clock set back before the issue time makes the remaining validity unknowable: refresh first.
        guard now >= tokens.issuedAt else { return false }
        let lifetime = usableUntil.timeIntervalSince(tokens.issuedAt)
        var required = policy.requiredValidity(lifetime: lifetime)
        // More than the whole lifetime cannot be had: then half of it, which refreshes at most twice as often.
        if let asked { required = max(required, asked <= lifetime ? asked : lifetime / 2) }
        return usableUntil.timeIntervalSince(now) >= required
    }

    /// How long a request for still-valid tokens waits for the refresh in flight: what the last refresh took,
    /// with a wide margin, counted from this refresh's start.
    private func inFlightWait(_ ticket: Ticket, now: Date) -> TimeInterval {
        let allowance = policy.inFlightWait(lastLatency: lastLatency)
        let elapsed = now.timeIntervalSince(ticket.startedAt)
        return max(0, allowance - max(0, elapsed))
    }

    private func canStart(_ trigger: Trigger, now: Date) -> Bool {
        guard !isRefreshing, let tokens, tokens.refreshToken != nil else { return false }
        // A clock set back before the last attempt would stretch its backoff: the wait counts as over. Otherwise a
        // backoff holds whatever else the clock did, so a failing endpoint is never retried in a loop.
        if let last = lastAttempt, now < last.at { return true }
        if consecutiveFailures > 0, let next = nextRefreshAt { return now >= next }
        if now < tokens.issuedAt { return true }
        guard let next = nextRefreshAt else { return trigger == .onDemand }
        switch trigger {
        case .scheduled: return now >= next
        case .onDemand: return consecutiveFailures == 0 || now >= next
        }
    }

    private func schedule(_ tokens: TokenSet, jitter: Double) -> Date? {
        guard tokens.refreshToken != nil, let expiresAt = tokens.expiresAt else { return nil }
        return policy.refreshTime(issuedAt: tokens.issuedAt, expiresAt: expiresAt, jitter: jitter)
    }
}
