import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import ClaudeAuthDaemon

/// The scheduler as a service in a real `ServiceGroup`: refreshes run as its children, requests wait for the one in
/// flight, and a graceful shutdown drains what is in flight, within a limit.
@Suite("refresh scheduler and waiting requests", .timeLimit(.minutes(5)))
struct RefreshSchedulerTests {
    /// A token endpoint that answers when the test says, and gives up when its task is cancelled.
    final class CancellableEndpoint: Sendable {
        let pending = Mutex<CheckedContinuation<Result<TokenSet, TokenEndpointFailure>, Never>?>(nil)
        let (called, calledContinuation) = AsyncStream.makeStream(of: String.self)
        /// One event per request parked to wait for a refresh (its deadline, which never comes, being set).
        let (parked, parkedContinuation) = AsyncStream.makeStream(of: Void.self)

        func refresh(_ refreshToken: Secret, _: OAuthSettings, _: Secret?) async -> Result<TokenSet, TokenEndpointFailure> {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    pending.withLock { $0 = continuation }
                    calledContinuation.yield(refreshToken.unredacted)
                }
            } onCancel: {
                answer(.failure(TokenEndpointFailure(kind: .transient, message: "cancelled")))
            }
        }

        func answer(_ result: Result<TokenSet, TokenEndpointFailure>) {
            pending.withLock { pending in defer { pending = nil }; return pending }?.resume(returning: result)
        }
    }

    let directory = "/tmp/ca-scheduler-" + UUID().uuidString.prefix(8)
    let endpoint = CancellableEndpoint()
    let issued = Date()
    let settings = OAuthSettings(clientID: "c", endpoints: OAuthEndpoints(authorize: "http://127.0.0.1:9/a", token: "http://127.0.0.1:9/token"))
    var store: CredentialStore { CredentialStore(stateDirectory: directory) }

    func tokens(_ generation: Int) -> TokenSet {
        TokenSet(
            accessToken: Secret("at-\(generation)"), refreshToken: Secret("rt-\(generation)"),
            expiresAt: issued.addingTimeInterval(3600), scopes: nil, issuedAt: issued)
    }

    /// Sessions with a logged-in `work` profile whose tokens are good for an hour, and a group running the scheduler.
    func running(drainLimit: Duration = .seconds(3600)) async throws -> (OAuthSessions, ServiceGroup, Task<Void, any Error>) {
        let sessions = OAuthSessions(
            store: store, environment: [:], dependencies: .init(
                // The clock stands still: however slow the machine, a request finds the refresh just started.
                now: { [issued] in issued }, jitter: { 0.5 }, refresh: endpoint.refresh,
                deadline: { [endpoint] _, _ in
                    endpoint.parkedContinuation.yield()
                    return {}
                }),
            logger: Logger(label: "test"), changed: {})
        sessions.configure([Profile(name: "work", credential: .oauth(settings))])
        try await sessions.install(tokens(1), profile: "work", settings: settings)
        let scheduler = RefreshScheduler(sessions: sessions, wakeups: AsyncStream { _ in }, arm: { _ in }, drainLimit: drainLimit)
        let group = ServiceGroup(services: [scheduler], logger: Logger(label: "test"))
        return (sessions, group, Task { try await group.run() })
    }

    @Test("requests for a valid token while a refresh is in flight get the new token, not the one it replaces")
    func requestsWaitForTheRefresh() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (sessions, group, run) = try await running()
        async let forced = sessions.refresh("work", trigger: .onDemand)
        var called = endpoint.called.makeAsyncIterator()
        #expect(await called.next() == "rt-1")
        // The held token has an hour left, but a refresh is replacing it.
        async let served = withTaskGroup(of: Secret.self) { group in
            for _ in 0..<100 { group.addTask { (try? await sessions.tokens(for: "work").accessToken) ?? Secret("none") } }
            return await group.reduce(into: [Secret]()) { $0.append($1) }
        }
        // The forced refresh and every request are parked: none was served the token being replaced.
        var parked = endpoint.parked.makeAsyncIterator()
        for _ in 0..<101 { await parked.next() }
        #expect(sessions.status(of: "work").refresh?.refreshing == true)
        endpoint.answer(.success(tokens(2)))
        #expect(await forced == .refreshed)
        #expect(await served.allSatisfy { $0 == Secret("at-2") })
        #expect(try store.load(settings.identity)?.tokens?.accessToken == Secret("at-2"))
        await group.triggerGracefulShutdown()
        try await run.value
    }

    @Test("a graceful shutdown lets the refresh in flight finish and store its tokens")
    func drainsOnShutdown() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (sessions, group, run) = try await running()
        async let forced = sessions.refresh("work", trigger: .onDemand)
        var called = endpoint.called.makeAsyncIterator()
        _ = await called.next()
        await group.triggerGracefulShutdown()
        endpoint.answer(.success(tokens(2)))
        try await run.value
        // Stored by the time the service group returned: the rotated refresh token is not lost.
        #expect(try store.load(settings.identity)?.tokens?.refreshToken == Secret("rt-2"))
        #expect(await forced == .refreshed)
    }

    @Test("a refresh that outlasts the drain limit is cancelled, and the stored tokens stay as they were")
    func drainLimit() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (sessions, group, run) = try await running(drainLimit: .milliseconds(50))
        async let forced = sessions.refresh("work", trigger: .onDemand)
        var called = endpoint.called.makeAsyncIterator()
        _ = await called.next()
        await group.triggerGracefulShutdown()
        try await run.value
        #expect(try store.load(settings.identity)?.tokens?.refreshToken == Secret("rt-1"))
        #expect(sessions.status(of: "work").refresh?.last?.message == "cancelled")
        guard case .failed = await forced else {
            Issue.record("a cancelled refresh reported success")
            return
        }
    }
}
