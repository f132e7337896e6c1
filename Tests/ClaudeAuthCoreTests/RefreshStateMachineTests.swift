import Foundation
import Testing

@testable import ClaudeAuthCore

/// The refresh timing rules, driven by explicit instants: no sleeping, no real clock.
@Suite("refresh state machine")
struct RefreshStateMachineTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = RefreshPolicy(minimumValidity: 60)

    func tokens(lifetime: TimeInterval?, at issuedAt: Date? = nil, refresh: String? = "rt-1", access: String = "at-1") -> TokenSet {
        let issued = issuedAt ?? start
        return TokenSet(
            accessToken: Secret(access), refreshToken: refresh.map(Secret.init), expiresAt: lifetime.map { issued.addingTimeInterval($0) },
            scopes: nil, issuedAt: issued)
    }

    func machine(lifetime: TimeInterval?, jitter: Double = 0.5) -> RefreshStateMachine {
        var machine = RefreshStateMachine(policy: policy)
        machine.install(tokens(lifetime: lifetime), jitter: jitter)
        return machine
    }

    @Test("lifetimes from 1 s to 30 days: refreshed 70–80 % in, and always served with the required validity until then",
          arguments: [1.0, 60.0, 8 * 3600.0, 30 * 86400.0] as [TimeInterval])
    func lifetimes(lifetime: TimeInterval) throws {
        // Counted from the usable lifetime: whole-second expiry means up to a second less (a quarter at most).
        let usable = lifetime - min(1, lifetime / 4)
        #expect(policy.usableUntil(issuedAt: start, expiresAt: start.addingTimeInterval(lifetime)) == start.addingTimeInterval(usable))
        for jitter in [0.0, 0.5, 0.999] {
            let machine = machine(lifetime: lifetime, jitter: jitter)
            let refreshAt = try #require(machine.nextRefreshAt)
            let fraction = refreshAt.timeIntervalSince(start) / usable
            #expect(fraction >= 0.70 - 1e-6 && fraction < 0.80 + 1e-6, "lifetime \(lifetime) s, jitter \(jitter): refresh at \(fraction)")
            // Just before the refresh time the token is served as it is: no client ever triggers a refresh first.
            let justBefore = refreshAt.addingTimeInterval(-0.001)
            #expect(!machine.isDue(now: justBefore))
            #expect(machine.decide(now: justBefore) == .serve(tokens(lifetime: lifetime)))
            #expect(machine.isDue(now: refreshAt))
            // What remains at the refresh time is more than the validity a served token must keep.
            #expect(usable - refreshAt.timeIntervalSince(start) > policy.requiredValidity(lifetime: usable))
        }
        // Past the required validity, a request refreshes first.
        let late = start.addingTimeInterval(usable - policy.requiredValidity(lifetime: usable) / 2)
        #expect(machine(lifetime: lifetime).decide(now: late) == .refresh)
    }

    @Test("the minimum validity is configurable and shrinks for short lifetimes")
    func requiredValidity() {
        #expect(policy.requiredValidity(lifetime: 8 * 3600) == 60)
        #expect(policy.requiredValidity(lifetime: 60) == 9)
        #expect(policy.requiredValidity(lifetime: 1) == 0.15)
        #expect(RefreshPolicy(minimumValidity: 300).requiredValidity(lifetime: 3600) == 300)
    }

    @Test("jitter spreads refreshes over the window and never leaves it")
    func jitterBounds() {
        let issued = start
        let expires = start.addingTimeInterval(1000)
        var seen = Set<Int>()
        for step in 0..<100 {
            let at = policy.refreshTime(issuedAt: issued, expiresAt: expires, jitter: Double(step) / 100).timeIntervalSince(issued)
            #expect(at >= 0.7 * 999 - 1e-6 && at < 0.8 * 999)
            seen.insert(Int(at))
        }
        #expect(seen.count == 100)
        // Out-of-range jitter is clamped, and a zero lifetime still waits the minimum interval.
        #expect(abs(policy.refreshTime(issuedAt: issued, expiresAt: expires, jitter: 7).timeIntervalSince(issued) - 0.8 * 999) < 1e-6)
        #expect(policy.refreshTime(issuedAt: issued, expiresAt: issued, jitter: 0.5).timeIntervalSince(issued) == 0.5)
    }

    @Test("backoff doubles from 1 s to a 60 s cap, with equal jitter, and honours Retry-After up to an hour")
    func backoffSequence() {
        let ceilings = (1...9).map { policy.backoff(failures: $0, retryAfter: nil, jitter: 1) }
        #expect(ceilings == [1, 2, 4, 8, 16, 32, 60, 60, 60])
        let floors = (1...9).map { policy.backoff(failures: $0, retryAfter: nil, jitter: 0) }
        #expect(floors == [0.5, 1, 2, 4, 8, 16, 30, 30, 30])
        #expect(policy.backoff(failures: 1000, retryAfter: nil, jitter: 1) == 60)
        #expect(policy.backoff(failures: 1, retryAfter: 120, jitter: 0.5) == 120)
        #expect(policy.backoff(failures: 7, retryAfter: 2, jitter: 1) == 60)
        #expect(policy.backoff(failures: 1, retryAfter: 999_999, jitter: 0) == 3600)
    }

    @Test("a transient failure backs off, keeps serving the valid token, and fails with unavailable once it expires")
    func transientFailure() throws {
        var machine = machine(lifetime: 100)
        let due = try #require(machine.nextRefreshAt)
        #expect(machine.beginRefresh(.scheduled, now: due)?.refreshToken == Secret("rt-1"))
        machine.answerInFlight(failure: TokenEndpointFailure(kind: .transient, message: "the token endpoint answered 503"), now: due, jitter: 1)
        #expect(machine.consecutiveFailures == 1)
        #expect(machine.nextRefreshAt == due.addingTimeInterval(1))
        #expect(machine.lastAttempt == .init(at: due, succeeded: false, message: "the token endpoint answered 503"))
        // Still valid: served, and a request during the backoff starts nothing.
        let during = due.addingTimeInterval(0.5)
        #expect(machine.decide(now: during) == .serve(tokens(lifetime: 100)))
        #expect(machine.beginRefresh(.onDemand, now: during) == nil)

        // Second failure at the retry: 2 s, unless the server asks for more.
        let retry = due.addingTimeInterval(1)
        #expect(machine.beginRefresh(.scheduled, now: retry) != nil)
        machine.answerInFlight(failure: TokenEndpointFailure(kind: .transient, message: "no answer in time"), now: retry, jitter: 1)
        #expect(machine.nextRefreshAt == retry.addingTimeInterval(2))
        let third = retry.addingTimeInterval(2)
        #expect(machine.beginRefresh(.scheduled, now: third) != nil)
        machine.answerInFlight(failure: TokenEndpointFailure(kind: .transient, message: "no answer in time", retryAfter: 60), now: third, jitter: 1)
        let nextTry = third.addingTimeInterval(60)
        #expect(machine.nextRefreshAt == nextTry)

        // Expired in the meantime: unavailable, saying why and when the next try is; no request starts one early.
        let expired = start.addingTimeInterval(101)
        #expect(machine.decide(now: expired) == .fail(.unavailable(
            "the access token expired and cannot be refreshed now (no answer in time), next try in \(Int(nextTry.timeIntervalSince(expired).rounded(.up))) s")))
        #expect(machine.beginRefresh(.onDemand, now: expired) == nil)

        // Success resets the failures and schedules from the new tokens.
        #expect(machine.beginRefresh(.scheduled, now: nextTry) != nil)
        let fresh = tokens(lifetime: 100, at: nextTry, refresh: "rt-2", access: "at-2")
        machine.answerInFlight(tokens: fresh, now: nextTry, jitter: 0)
        #expect(machine.consecutiveFailures == 0)
        #expect(machine.lastAttempt?.succeeded == true)
        #expect(machine.nextRefreshAt == nextTry.addingTimeInterval(0.7 * 99))
        #expect(machine.decide(now: nextTry) == .serve(fresh))
    }

    @Test("Retry-After from a 429 sets the next try")
    func retryAfter() throws {
        var machine = machine(lifetime: 3600)
        let due = try #require(machine.nextRefreshAt)
        _ = machine.beginRefresh(.scheduled, now: due)
        machine.answerInFlight(failure: TokenEndpointFailure(kind: .transient, code: nil, message: "429", retryAfter: 30), now: due, jitter: 0)
        #expect(machine.nextRefreshAt == due.addingTimeInterval(30))
        #expect(!machine.isDue(now: due.addingTimeInterval(29)))
        #expect(machine.isDue(now: due.addingTimeInterval(30)))
    }

    @Test("a permanent failure requires a login: no retry, no schedule, clients told to log in")
    func permanentFailure() throws {
        var machine = machine(lifetime: 3600)
        let due = try #require(machine.nextRefreshAt)
        _ = machine.beginRefresh(.scheduled, now: due)
        machine.answerInFlight(failure: TokenEndpointFailure(kind: .permanent, code: "invalid_grant", message: "400: invalid_grant"), now: due, jitter: 0)
        #expect(machine.nextRefreshAt == nil)
        #expect(machine.wakeAt == nil)
        #expect(!machine.isDue(now: due.addingTimeInterval(86400)))
        #expect(machine.beginRefresh(.onDemand, now: due.addingTimeInterval(1)) == nil)
        guard case .fail(.loginRequired(let reason)) = machine.decide(now: due) else {
            Issue.record("expected login required")
            return
        }
        #expect(reason.contains("invalid_grant"))
    }

    @Test("classification: invalid_grant and a bare 400 are permanent; 5xx, 429, slow_down and garbage are transient")
    func classification() {
        func kind(_ status: Int, _ body: String, retryAfter: String? = nil) -> TokenEndpointFailure.Kind? {
            guard case .failure(let failure) = TokenResponseParser.parse(status: status, body: Array(body.utf8), retryAfter: retryAfter, receivedAt: start)
            else { return nil }
            return failure.kind
        }
        #expect(kind(400, #"{"error":"invalid_grant"}"#) == .permanent)
        #expect(kind(400, "") == .permanent)
        #expect(kind(401, #"{"error":"invalid_client"}"#) == .permanent)
        #expect(kind(400, #"{"error":"slow_down"}"#) == .transient)
        #expect(kind(503, "") == .transient)
        #expect(kind(500, #"{"error":"server_error"}"#) == .transient)
        #expect(kind(429, "", retryAfter: "7") == .transient)
        #expect(kind(200, "<html>") == .transient)
        #expect(kind(200, #"{"access_token":""}"#) == .transient)
    }

    @Test("a clock jump forward makes the refresh due at once; the token is refreshed before it is served")
    func clockJumpForward() {
        let machine = machine(lifetime: 8 * 3600)
        let resumed = start.addingTimeInterval(3 * 86400)
        #expect(machine.isDue(now: resumed))
        #expect(machine.decide(now: resumed) == .refresh)
        guard case .fail(.unavailable) = machine.decide(now: resumed, mayRefresh: false) else {
            Issue.record("an expired token must not be served")
            return
        }
    }

    @Test("a clock set back before the issue time refreshes at once; a clock set back during backoff ends the wait")
    func clockJumpBack() throws {
        let fresh = machine(lifetime: 8 * 3600)
        let back = start.addingTimeInterval(-3600)
        #expect(fresh.isDue(now: back))
        #expect(fresh.decide(now: back) == .refresh)

        var failing = machine(lifetime: 8 * 3600)
        let due = try #require(failing.nextRefreshAt)
        _ = failing.beginRefresh(.scheduled, now: due)
        failing.answerInFlight(failure: TokenEndpointFailure(kind: .transient, message: "503", retryAfter: 3000), now: due, jitter: 0)
        #expect(!failing.isDue(now: due.addingTimeInterval(10)))
        #expect(failing.isDue(now: due.addingTimeInterval(-10)))
    }

    @Test("a clock behind the issue time does not lift the backoff: a failing endpoint is tried 0, 0.5 and 1.5 s in, not in a loop")
    func backoffBeforeIssueTime() {
        // Tokens stored with an issue time an hour ahead of the clock (the clock was set back), endpoint answering 500.
        var machine = RefreshStateMachine(policy: policy)
        machine.install(tokens(lifetime: 8 * 3600, at: start.addingTimeInterval(3600)), jitter: 0.5)
        var attempts: [TimeInterval] = []
        for step in 0..<3000 {
            let now = start.addingTimeInterval(Double(step) / 1000)
            for trigger in [RefreshStateMachine.Trigger.scheduled, .onDemand] where machine.beginRefresh(trigger, now: now) != nil {
                attempts.append(now.timeIntervalSince(start))
                machine.answerInFlight(failure: TokenEndpointFailure(kind: .transient, message: "500"), now: now, jitter: 0)
            }
            if case .refresh = machine.decide(now: now) { Issue.record("a request would wait for a refresh during backoff at \(now)") }
        }
        #expect(attempts == [0, 0.5, 1.5])
        #expect(machine.decide(now: start.addingTimeInterval(3)) == .serve(tokens(lifetime: 8 * 3600, at: start.addingTimeInterval(3600))))
    }

    @Test("single flight: while one refresh runs no other starts, and requests wait for it")
    func singleFlight() {
        var machine = machine(lifetime: 10)
        let late = start.addingTimeInterval(9.9)
        #expect(machine.beginRefresh(.onDemand, now: late)?.refreshToken == Secret("rt-1"))
        #expect(machine.beginRefresh(.onDemand, now: late) == nil)
        #expect(machine.beginRefresh(.scheduled, now: late) == nil)
        #expect(machine.wakeAt == nil)
        #expect(machine.decide(now: late) == .refresh)
        // A login ends the refresh in flight: its answer will be discarded, and a new one may start.
        machine.install(tokens(lifetime: 10), jitter: 0.5)
        #expect(machine.beginRefresh(.onDemand, now: late) != nil)
    }

    @Test("while a refresh is in flight, a request for still-valid tokens waits for it, bounded; after the wait it gets them")
    func waitsForRefreshInFlight() throws {
        var machine = machine(lifetime: 100)
        let due = try #require(machine.nextRefreshAt)
        let ticketStarted = machine.beginRefresh(.scheduled, now: due)
        let ticket = try #require(ticketStarted)
        // No last refresh to go by: the floor.
        #expect(machine.decide(now: due) == .waitForRefresh(seconds: 5))
        #expect(machine.decide(now: due.addingTimeInterval(2)) == .waitForRefresh(seconds: 3))
        #expect(machine.decide(now: due.addingTimeInterval(9)) == .waitForRefresh(seconds: 0))
        // The wait is over and the refresh still runs: the tokens held, valid, are served.
        #expect(machine.decide(now: due.addingTimeInterval(9), mayRefresh: false) == .serve(tokens(lifetime: 100)))
        // An answer is stored before it is served: the refresh stays in flight until then.
        let fresh = tokens(lifetime: 100, at: due.addingTimeInterval(2), refresh: "rt-2", access: "at-2")
        let step1 = machine.answered(ticket, .success(fresh), now: due.addingTimeInterval(2), jitter: 0)
        #expect(step1 == .store(fresh))
        #expect(machine.isRefreshing)
        #expect(machine.decide(now: due.addingTimeInterval(2)) == .waitForRefresh(seconds: 3))
        let step2 = machine.stored(ticket, now: due.addingTimeInterval(2), jitter: 0)
        #expect(step2)
        #expect(!machine.isRefreshing)
        #expect(machine.decide(now: due.addingTimeInterval(2)) == .serve(fresh))
        // The next wait goes by that refresh's 2 s: three times it, plus a second.
        let nextStarted = machine.beginRefresh(.onDemand, now: due.addingTimeInterval(2))
        let next = try #require(nextStarted)
        #expect(next.number == ticket.number + 1)
        #expect(machine.decide(now: due.addingTimeInterval(2)) == .waitForRefresh(seconds: 7))
    }

    @Test("a login or logout during a refresh ends it: the answer to its ticket is discarded, whatever it is")
    func staleTickets() throws {
        let answers: [Result<TokenSet, TokenEndpointFailure>] = [
            .success(tokens(lifetime: 100, refresh: "rt-2", access: "at-2")),
            .failure(TokenEndpointFailure(kind: .permanent, code: "invalid_grant", message: "400")),
            .failure(TokenEndpointFailure(kind: .transient, message: "503")),
        ]
        for answer in answers {
            var loggedOut = machine(lifetime: 100)
            let ticketStarted = loggedOut.beginRefresh(.onDemand, now: start)
            let ticket = try #require(ticketStarted)
            loggedOut.logOut()
            let step3 = loggedOut.answered(ticket, answer, now: start, jitter: 0)
            #expect(step3 == .discarded)
            #expect(loggedOut.phase == .loggedOut)
            #expect(loggedOut.lastAttempt == nil)

            var relogged = machine(lifetime: 100)
            let oldStarted = relogged.beginRefresh(.onDemand, now: start)
            let old = try #require(oldStarted)
            let login = tokens(lifetime: 100, refresh: "rt-login", access: "at-login")
            relogged.install(login, jitter: 0)
            // A refresh started after the login is a new ticket; the old one's answer is not taken for it.
            let currentStarted = relogged.beginRefresh(.onDemand, now: start)
            let current = try #require(currentStarted)
            #expect(current != old)
            let step4 = relogged.answered(old, answer, now: start, jitter: 0)
            #expect(step4 == .discarded)
            #expect(relogged.isCurrent(current))
            #expect(relogged.tokens == login)
        }
        // A logout between an answer and its store: the stored answer is not acted on.
        var machine = machine(lifetime: 100)
        let ticketStarted = machine.beginRefresh(.onDemand, now: start)
        let ticket = try #require(ticketStarted)
        _ = machine.answered(ticket, answers[0], now: start, jitter: 0)
        machine.logOut()
        let acted = machine.stored(ticket, now: start, jitter: 0)
        #expect(!acted)
        #expect(machine.phase == .loggedOut)
    }

    @Test("a refused refresh token is stored as login required before the profile says so")
    func refusedIsStoredFirst() throws {
        var machine = machine(lifetime: 100)
        let ticketStarted = machine.beginRefresh(.onDemand, now: start)
        let ticket = try #require(ticketStarted)
        let refused = TokenEndpointFailure(kind: .permanent, code: "invalid_grant", message: "400")
        let reason = "the authorization server refused the refresh token (invalid_grant)"
        let step5 = machine.answered(ticket, .failure(refused), now: start, jitter: 0)
        #expect(step5 == .storeLoginRequired(reason: reason))
        #expect(machine.tokens != nil)
        let step6 = machine.stored(ticket, now: start, jitter: 0)
        #expect(step6)
        #expect(machine.phase == .loginRequired(reason: reason))
        #expect(machine.decide(now: start) == .fail(.loginRequired(reason)))
    }

    @Test("a request for a minimum validity: served while it is left, refreshed for first when not, half the lifetime at most")
    func minimumValidity() {
        // 10 s tokens: 9 s usable.
        let machine = machine(lifetime: 10)
        let fresh = tokens(lifetime: 10)
        #expect(machine.decide(now: start, minimumValidity: 8) == .serve(fresh))
        #expect(machine.decide(now: start.addingTimeInterval(0.9), minimumValidity: 8) == .serve(fresh))
        #expect(machine.decide(now: start.addingTimeInterval(1.1), minimumValidity: 8) == .refresh)
        // After the refresh, whatever is held is served.
        #expect(machine.decide(now: start.addingTimeInterval(1.1), mayRefresh: false, minimumValidity: 8) == .serve(fresh))
        // More than the lifetime: half of it.
        #expect(machine.decide(now: start.addingTimeInterval(4.4), minimumValidity: 3600) == .serve(fresh))
        #expect(machine.decide(now: start.addingTimeInterval(4.6), minimumValidity: 3600) == .refresh)
        // Less than the policy asks changes nothing.
        #expect(machine.decide(now: start.addingTimeInterval(8), minimumValidity: 0) == machine.decide(now: start.addingTimeInterval(8)))
    }

    @Test("an answer without refresh_token keeps the old one; without expires_in nothing is scheduled")
    func mergingAndNoExpiry() {
        let fresh = tokens(lifetime: 60, refresh: nil, access: "at-2")
        #expect(fresh.keepingRefreshToken(Secret("rt-1")).refreshToken == Secret("rt-1"))
        #expect(fresh.keepingRefreshToken(Secret("rt-1")).accessToken == Secret("at-2"))
        #expect(tokens(lifetime: 60, refresh: "rt-2").keepingRefreshToken(Secret("rt-1")).refreshToken == Secret("rt-2"))

        var forever = self.machine(lifetime: nil)
        #expect(forever.nextRefreshAt == nil)
        #expect(forever.decide(now: start.addingTimeInterval(1e9)) == .serve(tokens(lifetime: nil)))
        #expect(forever.beginRefresh(.scheduled, now: start.addingTimeInterval(1e9)) == nil)
        #expect(forever.beginRefresh(.onDemand, now: start) != nil)
    }

    @Test("without a refresh token an expired token means a new login")
    func noRefreshToken() {
        var machine = RefreshStateMachine(policy: policy)
        machine.install(tokens(lifetime: 60, refresh: nil), jitter: 0)
        #expect(machine.nextRefreshAt == nil)
        #expect(machine.decide(now: start.addingTimeInterval(58)) == .serve(tokens(lifetime: 60, refresh: nil)))
        guard case .fail(.loginRequired) = machine.decide(now: start.addingTimeInterval(61)) else {
            Issue.record("expected login required")
            return
        }
    }
}

extension RefreshStateMachine {
    /// The refresh in flight fails with `failure`, stored when it asks to be.
    mutating func answerInFlight(failure: TokenEndpointFailure, now: Date, jitter: Double) {
        answerInFlight(.failure(failure), now: now, jitter: jitter)
    }

    /// The refresh in flight yields `tokens`, stored.
    mutating func answerInFlight(tokens: TokenSet, now: Date, jitter: Double) {
        answerInFlight(.success(tokens), now: now, jitter: jitter)
    }

    private mutating func answerInFlight(_ result: Result<TokenSet, TokenEndpointFailure>, now: Date, jitter: Double) {
        guard let ticket = inFlight else {
            Issue.record("no refresh in flight")
            return
        }
        switch answered(ticket, result, now: now, jitter: jitter) {
        case .store, .storeLoginRequired: #expect(stored(ticket, now: now, jitter: jitter))
        case .failed: break
        case .discarded: Issue.record("the answer to the refresh in flight was discarded")
        }
    }
}
