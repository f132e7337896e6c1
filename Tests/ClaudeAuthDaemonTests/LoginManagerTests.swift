import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import ClaudeAuthDaemon

/// The login manager in process: its timers run on a manual clock, the token endpoint answers when the test says,
/// and only the callback listener is real (bound on an ephemeral loopback port).
@Suite("login manager")
struct LoginManagerTests {
    /// Sleeps that end when the test moves time on, or when their task is cancelled.
    final class ManualTimers: Sendable {
        private struct State {
            var now: Duration = .zero
            var sleepers: [Int: (deadline: Duration, continuation: CheckedContinuation<Void, any Error>)] = [:]
            var cancelledEarly: Set<Int> = []
            var issued = 0
            var cancelled = 0
        }

        private let state = Mutex(State())
        let (started, startedContinuation) = AsyncStream.makeStream(of: Duration.self)

        func sleep(_ duration: Duration) async throws {
            let id = state.withLock { state in
                state.issued += 1
                return state.issued
            }
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let early = state.withLock { state -> Bool in
                        if state.cancelledEarly.remove(id) != nil { return true }
                        state.sleepers[id] = (state.now + duration, continuation)
                        return false
                    }
                    if early { continuation.resume(throwing: CancellationError()) }
                    startedContinuation.yield(duration)
                }
            } onCancel: {
                let sleeper = state.withLock { state in
                    state.cancelled += 1
                    guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                        state.cancelledEarly.insert(id)
                        return nil as CheckedContinuation<Void, any Error>?
                    }
                    return sleeper.continuation
                }
                sleeper?.resume(throwing: CancellationError())
            }
        }

        /// Moves time on by `duration`, ending every sleep due.
        func advance(_ duration: Duration) {
            let due = state.withLock { state in
                state.now += duration
                let due = state.sleepers.filter { $0.value.deadline <= state.now }
                for id in due.keys { state.sleepers[id] = nil }
                return due.values.map(\.continuation)
            }
            for continuation in due { continuation.resume() }
        }

        /// Sleeps still running: timers a login left behind.
        var sleeping: Int { state.withLock { $0.sleepers.count } }
    }

    /// A token endpoint that holds each code exchange until the test answers it.
    final class HeldEndpoint: Sendable {
        let held = Mutex<[String: CheckedContinuation<Result<TokenSet, TokenEndpointFailure>, Never>]>([:])
        let (called, calledContinuation) = AsyncStream.makeStream(of: String.self)

        func exchange(_ code: String, _: LoginManager.Exchange) async -> Result<TokenSet, TokenEndpointFailure> {
            await withCheckedContinuation { continuation in
                held.withLock { $0[code] = continuation }
                calledContinuation.yield(code)
            }
        }

        func answer(_ code: String, with result: Result<TokenSet, TokenEndpointFailure>) {
            held.withLock { $0.removeValue(forKey: code) }?.resume(returning: result)
        }
    }

    /// What the manager installed.
    final class Installed: Sendable {
        let tokens = Mutex<[(profile: String, token: String)]>([])
        var count: Int { tokens.withLock { $0.count } }
    }

    /// Holds the first bind until the test opens it.
    final class BindGate: Sendable {
        let binds = Mutex(0)
        let (waiting, waitingContinuation) = AsyncStream.makeStream(of: Void.self)
        let opened = Mutex<CheckedContinuation<Void, Never>?>(nil)

        func pass() async {
            let first = binds.withLock { count in
                count += 1
                return count == 1
            }
            guard first else { return }
            await withCheckedContinuation { continuation in
                opened.withLock { $0 = continuation }
                waitingContinuation.yield()
            }
        }

        func open() {
            opened.withLock { $0 }?.resume()
        }
    }

    let timers = ManualTimers()
    let endpoint = HeldEndpoint()
    let installed = Installed()
    let settings = OAuthSettings(
        clientID: "c", authorizeURL: "http://127.0.0.1:9/authorize", tokenURL: "http://127.0.0.1:9/token", redirectPort: 0, loginTimeout: 300)
    let tokens = TokenSet(accessToken: Secret("at-login"), refreshToken: Secret("rt-login"), expiresAt: nil, scopes: nil, issuedAt: Date())

    func manager(gate: BindGate? = nil) -> LoginManager {
        let timers = self.timers
        let endpoint = self.endpoint
        let installed = self.installed
        let dependencies = LoginManager.Dependencies(
            sleep: { try await timers.sleep($0) },
            bind: { port throws(CallbackListener.Failure) in
                await gate?.pass()
                return try await CallbackListener.bind(port: port, limits: ServerLimits(), logger: Logger(label: "test"))
            },
            exchange: endpoint.exchange)
        return LoginManager(dependencies: dependencies, logger: Logger(label: "test")) { profile, _, tokens in
            installed.tokens.withLock { $0.append((profile, tokens.accessToken.unredacted)) }
        }
    }

    func state(of ticket: LoginManager.Ticket) throws -> String {
        let query = try #require(URLComponents(string: ticket.authorizeURL)?.queryItems)
        return try #require(query.first { $0.name == "state" }?.value)
    }

    func outcome(_ manager: LoginManager, _ ticket: LoginManager.Ticket) async throws -> LoginManager.Outcome {
        try await manager.wait(ticket.id, seconds: 0)
    }

    @Test("two starts for one profile racing over the listener's bind: the newer replaces the older, one stays pending")
    func concurrentStarts() async throws {
        let gate = BindGate()
        let manager = manager(gate: gate)
        // The first start holds in its bind; the second runs to the end meanwhile.
        async let first = manager.start(profile: "work", settings: settings, clientSecret: nil)
        var waiting = gate.waiting.makeAsyncIterator()
        _ = await waiting.next()
        let second = try await manager.start(profile: "work", settings: settings, clientSecret: nil)
        #expect(try await outcome(manager, second) == .pending)
        gate.open()
        let older = try await first
        #expect(try await outcome(manager, older) == .pending)
        #expect(try await outcome(manager, second) == .failed("replaced by a newer login"))
        // The replaced login's code is not taken.
        #expect(await manager.callback(second.id, ["state": try state(of: second), "code": "c2"]).body == CallbackPage.failed.body)
        #expect(installed.count == 0)
    }

    @Test("a login that times out while its code is at the token endpoint does not install the answer")
    func timeoutDuringExchange() async throws {
        let manager = manager()
        let ticket = try await manager.start(profile: "work", settings: settings, clientSecret: nil)
        let ticketState = try state(of: ticket)
        async let page = manager.callback(ticket.id, ["state": ticketState, "code": "slow"])
        var called = endpoint.called.makeAsyncIterator()
        #expect(await called.next() == "slow")
        var started = timers.started.makeAsyncIterator()
        #expect(await started.next() == .seconds(300))  // the login's timeout
        async let ended = manager.wait(ticket.id, seconds: 600)
        #expect(await started.next() == .seconds(600))
        timers.advance(.seconds(300))
        #expect(try await ended == .failed("the login was not completed within 300 s"))
        endpoint.answer("slow", with: .success(tokens))
        #expect(await page.body == CallbackPage.failed.body)
        #expect(installed.count == 0)
        #expect(try await outcome(manager, ticket) == .failed("the login was not completed within 300 s"))
    }

    @Test("a login replaced while its code is at the token endpoint does not install the answer; the newer one does")
    func replacedDuringExchange() async throws {
        let manager = manager()
        let older = try await manager.start(profile: "work", settings: settings, clientSecret: nil)
        let olderState = try state(of: older)
        async let olderPage = manager.callback(older.id, ["state": olderState, "code": "old"])
        var called = endpoint.called.makeAsyncIterator()
        #expect(await called.next() == "old")
        let newer = try await manager.start(profile: "work", settings: settings, clientSecret: nil)
        #expect(try await outcome(manager, older) == .failed("replaced by a newer login"))
        endpoint.answer("old", with: .success(tokens))
        #expect(await olderPage.body == CallbackPage.failed.body)
        #expect(installed.count == 0)

        let newerState = try state(of: newer)
        async let newerPage = manager.callback(newer.id, ["state": newerState, "code": "new"])
        #expect(await called.next() == "new")
        endpoint.answer("new", with: .success(tokens))
        #expect(await newerPage.body == CallbackPage.signedIn.body)
        #expect(installed.tokens.withLock { $0.map(\.profile) } == ["work"])
        #expect(try await outcome(manager, newer) == .succeeded)
    }

    @Test("a wait ends at its deadline on the injected clock; an ended login leaves no timer running")
    func timers() async throws {
        let manager = manager()
        let ticket = try await manager.start(profile: "work", settings: settings, clientSecret: nil)
        var started = timers.started.makeAsyncIterator()
        #expect(await started.next() == .seconds(300))  // the login's timeout
        async let waited = manager.wait(ticket.id, seconds: 30)
        #expect(await started.next() == .seconds(30))
        timers.advance(.seconds(30))
        #expect(try await waited == .pending)
        #expect(timers.sleeping == 1)

        // A waiter still waiting when the login succeeds is told at once, and its deadline goes with the timeout.
        async let waiting = manager.wait(ticket.id, seconds: 60)
        #expect(await started.next() == .seconds(60))
        let ticketState = try state(of: ticket)
        async let page = manager.callback(ticket.id, ["state": ticketState, "code": "c"])
        var called = endpoint.called.makeAsyncIterator()
        _ = await called.next()
        endpoint.answer("c", with: .success(tokens))
        #expect(await page.body == CallbackPage.signedIn.body)
        #expect(try await waiting == .succeeded)
        #expect(timers.sleeping == 0)
        #expect(installed.count == 1)
    }

    @Test("a wrong state keeps the login waiting; error= ends it with the server's words; a failed exchange hides the verifier")
    func callbacks() async throws {
        let manager = manager()
        let ticket = try await manager.start(profile: "work", settings: settings, clientSecret: nil)
        #expect(await manager.callback(ticket.id, ["state": "forged", "code": "c"]).body == CallbackPage.wrongState.body)
        #expect(try await outcome(manager, ticket) == .pending)
        #expect(await manager.callback(ticket.id, ["state": try state(of: ticket), "error": "access_denied"]).body == CallbackPage.failed.body)
        #expect(try await outcome(manager, ticket) == .failed("the authorization server refused the sign-in: access_denied"))

        let second = try await manager.start(profile: "work", settings: settings, clientSecret: nil)
        let secondState = try state(of: second)
        async let page = manager.submit(second.id, input: "bad#\(secondState)")
        var called = endpoint.called.makeAsyncIterator()
        #expect(await called.next() == "bad")
        endpoint.answer("bad", with: .failure(TokenEndpointFailure(kind: .permanent, code: "invalid_grant", message: "400: invalid_grant")))
        guard case .failed(let reason) = try await page else {
            Issue.record("a refused code did not fail the login")
            return
        }
        #expect(reason == "the code exchange failed: 400: invalid_grant")
        #expect(installed.count == 0)
    }
}
