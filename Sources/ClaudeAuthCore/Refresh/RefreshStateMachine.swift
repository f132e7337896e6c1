#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

/// One OAuth profile's tokens and refresh timing (DESIGN §6), as a value driven by events and wall-clock instants.
///
/// It performs no I/O and reads no clock: the caller passes `now` and a jitter in `0..<1`, starts the refresh it
/// is told to, and reports the outcome. Deadlines are wall-clock instants, so after a suspend or a clock jump the
/// next look at `now` finds overdue work due at once.
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

    /// What a request for the token should get now.
    public enum Decision: Sendable, Equatable {
        /// These tokens.
        case serve(TokenSet)
        /// Nothing yet: refresh (or wait for the refresh in flight), then decide again without refreshing.
        case refresh
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

    /// The outcome of the last refresh attempt.
    public struct Attempt: Sendable, Equatable {
        /// When it ended.
        public var at: Date
        /// Whether it yielded tokens.
        public var succeeded: Bool
        /// Why it failed, without secrets.
        public var message: String?
    }

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
    /// Whether a refresh is in flight.
    public private(set) var isRefreshing = false

    /// A machine for a profile without tokens.
    public init(policy: RefreshPolicy) {
        self.policy = policy
    }

    /// The tokens held, if any.
    public var tokens: TokenSet? {
        if case .active(let tokens) = phase { return tokens }
        return nil
    }

    /// Takes tokens from a login or from the store; the refresh schedule starts over.
    public mutating func install(_ tokens: TokenSet, jitter: Double) {
        phase = .active(tokens)
        consecutiveFailures = 0
        nextRefreshAt = schedule(tokens, jitter: jitter)
    }

    /// Marks the grant dead, e.g. from a record in the store.
    public mutating func requireLogin(reason: String) {
        phase = .loginRequired(reason: reason)
        nextRefreshAt = nil
    }

    /// Forgets the tokens (logout).
    public mutating func logOut() {
        phase = .loggedOut
        nextRefreshAt = nil
        consecutiveFailures = 0
    }

    /// What a request should get at `now`; with `mayRefresh` false (after a refresh), never `.refresh`.
    public func decide(now: Date, mayRefresh: Bool = true) -> Decision {
        switch phase {
        case .loggedOut:
            return .fail(.loginRequired("not logged in"))
        case .loginRequired(let reason):
            return .fail(.loginRequired(reason))
        case .active(let tokens):
            guard let expiresAt = tokens.expiresAt else { return .serve(tokens) }
            let usableUntil = policy.usableUntil(issuedAt: tokens.issuedAt, expiresAt: expiresAt)
            let remaining = usableUntil.timeIntervalSince(now)
            let lifetime = usableUntil.timeIntervalSince(tokens.issuedAt)
            // A clock set back before the issue time makes the remaining validity unknowable: refresh first.
            let trusted = now >= tokens.issuedAt
            if trusted && remaining >= policy.requiredValidity(lifetime: lifetime) { return .serve(tokens) }
            if mayRefresh && (isRefreshing || canStart(.onDemand, now: now)) { return .refresh }
            if remaining > 0 { return .serve(tokens) }
            guard tokens.refreshToken != nil else {
                return .fail(.loginRequired("the access token expired and the server issued no refresh token"))
            }
            let why = lastAttempt?.message ?? "the token endpoint is failing"
            let retry = nextRefreshAt.map { ", next try in \(max(0, Int(clampingSeconds: $0.timeIntervalSince(now), .up))) s" } ?? ""
            return .fail(.unavailable("the access token expired and cannot be refreshed now (\(why))\(retry)"))
        }
    }

    /// Whether a `.scheduled` refresh is due at `now`.
    public func isDue(now: Date) -> Bool {
        canStart(.scheduled, now: now)
    }

    /// When the scheduler should look again: the planned refresh, unless one is in flight.
    public var wakeAt: Date? {
        isRefreshing ? nil : nextRefreshAt
    }

    /// Starts a refresh if `trigger` allows one at `now`; returns the refresh token to use, or nil.
    public mutating func beginRefresh(_ trigger: Trigger, now: Date) -> Secret? {
        guard canStart(trigger, now: now), let refreshToken = tokens?.refreshToken else { return nil }
        isRefreshing = true
        return refreshToken
    }

    /// Records a successful refresh, once `tokens` are stored.
    public mutating func refreshSucceeded(_ tokens: TokenSet, now: Date, jitter: Double) {
        isRefreshing = false
        lastAttempt = Attempt(at: now, succeeded: true)
        install(tokens, jitter: jitter)
    }

    /// Records a failed refresh: a permanent failure requires a login, a transient one backs off.
    public mutating func refreshFailed(_ failure: TokenEndpointFailure, now: Date, jitter: Double) {
        isRefreshing = false
        lastAttempt = Attempt(at: now, succeeded: false, message: failure.message)
        switch failure.kind {
        case .permanent:
            requireLogin(reason: "the authorization server refused the refresh token (\(failure.code ?? "invalid_grant"))")
        case .transient:
            consecutiveFailures += 1
            let delay = policy.backoff(failures: consecutiveFailures, retryAfter: failure.retryAfter, jitter: jitter)
            nextRefreshAt = now.addingTimeInterval(delay)
        }
    }

    /// Records a refresh that ended without an answer to judge (its result was discarded).
    public mutating func refreshAbandoned() {
        isRefreshing = false
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
