import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import ClaudeAuthDaemon

/// The refresh engine in process: an injected clock and a scripted token endpoint whose answers the test holds
/// back and releases, so concurrency is real and nothing sleeps.
@Suite("OAuth sessions and the refresh scheduler")
struct OAuthSessionsTests {
    /// A token endpoint that counts refresh grants, reports each call, and answers when the test says.
    final class ScriptedEndpoint: Sendable {
        let calls = Mutex<[String]>([])
        let pending = Mutex<[CheckedContinuation<Result<TokenSet, TokenEndpointFailure>, Never>]>([])
        let (called, calledContinuation) = AsyncStream.makeStream(of: Void.self)

        func refresh(_ refreshToken: Secret, _: OAuthSettings, _: Secret?) async -> Result<TokenSet, TokenEndpointFailure> {
            await withCheckedContinuation { continuation in
                calls.withLock { $0.append(refreshToken.unredacted) }
                pending.withLock { $0.append(continuation) }
                calledContinuation.yield()
            }
        }

        /// Waits for the next call, then answers every call waiting.
        func answerNext(_ result: Result<TokenSet, TokenEndpointFailure>) async {
            var iterator = called.makeAsyncIterator()
            _ = await iterator.next()
            for continuation in pending.withLock({ pending in defer { pending = [] }; return pending }) {
                continuation.resume(returning: result)
            }
        }

        var count: Int { calls.withLock { $0.count } }
    }

    /// The wall clock the sessions see.
    final class ManualClock: Sendable {
        let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { time.withLock { $0 } }
    }

    /// The schedulers running the sessions' refreshes, as the daemon's service group does.
    final class Schedulers: Sendable {
        let running = Mutex<[Task<Void, Never>]>([])

        func run(_ sessions: OAuthSessions) {
            let task = Task { await RefreshScheduler(sessions: sessions, wakeups: AsyncStream { _ in }, arm: { _ in }).run() }
            running.withLock { $0.append(task) }
        }

        func stop() {
            for task in running.withLock({ $0 }) { task.cancel() }
        }
    }

    /// A waiter's deadline that never comes: a loaded machine must not turn a slow refresh into a timeout here.
    static let never: @Sendable (TimeInterval, @escaping @Sendable () -> Void) -> @Sendable () -> Void = { _, _ in {} }

    let directory = "/tmp/ca-sessions-" + UUID().uuidString.prefix(8)
    let schedulers = Schedulers()
    let clock = ManualClock()
    let endpoint = ScriptedEndpoint()
    let settings = OAuthSettings(clientID: "c", endpoints: OAuthEndpoints(authorize: "http://127.0.0.1:9/a", token: "http://127.0.0.1:9/token"))

    var now: Date { clock.now }
    var store: CredentialStore { CredentialStore(stateDirectory: directory) }
    var profiles: [Profile] { [Profile(name: "work", credential: .oauth(settings))] }

    func sessions() -> OAuthSessions {
        let clock = self.clock
        let endpoint = self.endpoint
        let sessions = OAuthSessions(
            store: store, environment: [:], dependencies: .init(now: { clock.now }, jitter: { 0.5 }, refresh: endpoint.refresh, deadline: Self.never),
            logger: Logger(label: "test"), changed: {})
        sessions.configure(profiles)
        schedulers.run(sessions)
        return sessions
    }

    func tokens(_ generation: Int, lifetime: TimeInterval = 100, refresh: Bool = true) -> TokenSet {
        TokenSet(
            accessToken: Secret("at-\(generation)"), refreshToken: refresh ? Secret("rt-\(generation)") : nil,
            expiresAt: now.addingTimeInterval(lifetime), scopes: nil, issuedAt: now)
    }

    func advance(_ seconds: TimeInterval) {
        clock.time.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    func cleanUp() {
        schedulers.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test("1000 concurrent requests for an expired token cause one refresh grant, and all get the new token")
    func singleFlight() async throws {
        defer { cleanUp() }
        let sessions = sessions()
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        advance(101)
        let fresh = tokens(2)
        async let answered: Void = endpoint.answerNext(.success(fresh))
        let served = try await withThrowingTaskGroup(of: TokenSet.self) { group in
            for _ in 0..<1000 { group.addTask { try await sessions.tokens(for: "work") } }
            return try await group.reduce(into: [TokenSet]()) { $0.append($1) }
        }
        await answered
        #expect(endpoint.count == 1)
        #expect(endpoint.calls.withLock { $0 } == ["rt-1"])
        #expect(served.count == 1000)
        #expect(served.allSatisfy { $0.accessToken == Secret("at-2") })
        // On disk: the rotated refresh token.
        #expect(try store.load(settings.identity)?.tokens == fresh)
    }

    @Test("a hundred clients reporting the same rejected token cause one refresh; a report about an older token none")
    func clientReported() async throws {
        defer { cleanUp() }
        let sessions = sessions()
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        let rejected = Secret("at-1").fingerprint
        async let answered: Void = endpoint.answerNext(.success(tokens(2)))
        let outcomes = await withTaskGroup(of: OAuthSessions.RefreshOutcome.self) { group in
            for _ in 0..<100 { group.addTask { await sessions.refresh("work", trigger: .onDemand, ifFingerprint: rejected) } }
            return await group.reduce(into: [OAuthSessions.RefreshOutcome]()) { $0.append($1) }
        }
        await answered
        #expect(endpoint.count == 1)
        #expect(outcomes.allSatisfy { $0 != .notStarted })
        #expect(await sessions.refresh("work", trigger: .onDemand, ifFingerprint: rejected) == .alreadyReplaced)
        #expect(endpoint.count == 1)
        #expect(sessions.fingerprint(of: "work") == Secret("at-2").fingerprint)
    }

    @Test("an answer without refresh_token keeps the old one, in memory and on disk")
    func keepsRefreshToken() async throws {
        defer { cleanUp() }
        let sessions = sessions()
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        async let answered: Void = endpoint.answerNext(.success(tokens(2, refresh: false)))
        #expect(await sessions.refresh("work", trigger: .onDemand) == .refreshed)
        await answered
        #expect(try store.load(settings.identity)?.tokens?.refreshToken == Secret("rt-1"))
        #expect(try store.load(settings.identity)?.tokens?.accessToken == Secret("at-2"))
    }

    @Test("transient failures keep serving the valid token, then fail with unavailable, and recover by themselves")
    func transient() async throws {
        defer { cleanUp() }
        let sessions = sessions()
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        let outage = TokenEndpointFailure(kind: .transient, message: "the token endpoint answered 503")
        advance(95)  // below the minimum validity (15 % of a 99 s usable lifetime): refresh first, fall back to the old token
        async let failed: Void = endpoint.answerNext(.failure(outage))
        #expect(try await sessions.tokens(for: "work").accessToken == Secret("at-1"))
        await failed
        #expect(sessions.status(of: "work").refresh?.consecutiveFailures == 1)
        // During the backoff no request starts another grant.
        _ = try await sessions.tokens(for: "work")
        #expect(endpoint.count == 1)

        advance(10)  // expired, and the retry is due: the scheduler starts it
        #expect(sessions.startDueRefreshes() == nil)
        await endpoint.answerNext(.failure(outage))
        #expect(endpoint.count == 2)
        await #expect(throws: ServiceError.self) { try await sessions.tokens(for: "work") }
        let status = sessions.status(of: "work")
        #expect(status.state == .unavailable)
        #expect(status.message?.contains("503") == true)
        do {
            _ = try await sessions.tokens(for: "work")
        } catch {
            #expect(error.code == .tokenEndpointUnavailable)
        }

        advance(60)  // the endpoint is back
        async let recovered: Void = endpoint.answerNext(.success(tokens(2)))
        #expect(try await sessions.tokens(for: "work").accessToken == Secret("at-2"))
        await recovered
        #expect(sessions.status(of: "work").state == .ready)
        #expect(sessions.status(of: "work").refresh?.consecutiveFailures == 0)
    }

    @Test("a refused refresh token requires a login, persisted: a restarted daemon does not try it again")
    func permanent() async throws {
        defer { cleanUp() }
        let sessions = sessions()
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        advance(101)
        async let refused: Void = endpoint.answerNext(.failure(TokenEndpointFailure(kind: .permanent, code: "invalid_grant", message: "400")))
        do {
            _ = try await sessions.tokens(for: "work")
            Issue.record("a refused refresh served a token")
        } catch {
            #expect(error.code == .loginRequired)
            #expect(error.message.contains("claude-auth login --profile work"))
        }
        await refused
        #expect(try store.load(settings.identity)?.tokens == nil)
        #expect(try store.load(settings.identity)?.loginRequired?.contains("invalid_grant") == true)

        let restarted = self.sessions()
        #expect(restarted.status(of: "work").state == .loginRequired)
        #expect(restarted.startDueRefreshes() == nil)
        await #expect(throws: ServiceError.self) { try await restarted.tokens(for: "work") }
        #expect(endpoint.count == 1)
    }

    @Test("a logout during a refresh wins: the refresh's result is discarded and nothing is written back")
    func logoutDuringRefresh() async throws {
        defer { cleanUp() }
        let sessions = sessions()
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        async let refreshing = sessions.refresh("work", trigger: .onDemand)
        var called = endpoint.called.makeAsyncIterator()
        _ = await called.next()
        #expect(try await sessions.forget(profile: "work", settings: settings)?.accessToken == Secret("at-1"))
        for continuation in endpoint.pending.withLock({ $0 }) { continuation.resume(returning: .success(tokens(2))) }
        _ = await refreshing
        #expect(try store.load(settings.identity) == nil)
        #expect(sessions.status(of: "work").state == .loginRequired)
    }

    @Test("the scheduler arms the timer for the next refresh, and a resume past it refreshes at once")
    func scheduler() async throws {
        defer { cleanUp() }
        let (wakeups, wake) = RefreshScheduler.makeWakeups()
        let armed = AsyncStream.makeStream(of: Date?.self)
        let clock = self.clock
        let endpoint = self.endpoint
        let sessions = OAuthSessions(
            store: store, environment: [:], dependencies: .init(now: { clock.now }, jitter: { 0.5 }, refresh: endpoint.refresh, deadline: Self.never),
            logger: Logger(label: "test"), changed: wake)
        sessions.configure(profiles)
        let scheduler = Task { await RefreshScheduler(sessions: sessions, wakeups: wakeups, arm: { armed.continuation.yield($0) }).run() }
        defer { scheduler.cancel() }
        var deadlines = armed.stream.makeAsyncIterator()
        #expect(await deadlines.next() == .some(nil))  // nothing to refresh yet

        let issued = now
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        #expect(await deadlines.next() == issued.addingTimeInterval(0.75 * 99))

        // Suspended for an hour: the timer is late, the resume wakes the scheduler, the refresh starts at once.
        advance(3600)
        wake()
        await endpoint.answerNext(.success(tokens(2)))
        #expect(endpoint.calls.withLock { $0 } == ["rt-1"])
        var next: Date?? = await deadlines.next()
        while next == .some(nil) { next = await deadlines.next() }  // armed while the refresh was in flight
        #expect(next == .some(now.addingTimeInterval(0.75 * 99)))
    }
}
