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

    /// A device authorization server: its codes ask for 5 s between polls and last 600 s, and each poll of the
    /// token endpoint takes the next answer the test scripted (`authorization_pending` once they run out).
    final class DeviceEndpoint: Sendable {
        let authorization = try! DeviceAuthorization.parse(
            status: 200,
            body: Array(
                (#"{"device_code":"dc-1","user_code":"WDJB-MJHT","verification_uri":"http://127.0.0.1:9/device","#
                    + #""verification_uri_complete":"http://127.0.0.1:9/device?code=WDJB-MJHT","expires_in":600,"interval":5}"#).utf8)
        ).get()
        let answers = Mutex<[Result<TokenSet, TokenEndpointFailure>]>([])
        let (polled, polledContinuation) = AsyncStream.makeStream(of: String.self)

        func poll(_ code: Secret) async -> Result<TokenSet, TokenEndpointFailure> {
            let answer = answers.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            polledContinuation.yield(code.unredacted)
            return answer ?? .failure(Self.refusal("authorization_pending"))
        }

        static func refusal(_ code: String) -> TokenEndpointFailure {
            TokenEndpointFailure(kind: code == "slow_down" ? .transient : .permanent, code: code, message: "400: \(code)")
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
    let device = DeviceEndpoint()
    let installed = Installed()
    let settings = OAuthSettings(
        clientID: "c", endpoints: OAuthEndpoints(authorize: "http://127.0.0.1:9/authorize", token: "http://127.0.0.1:9/token"), redirectPort: 0, loginTimeout: 300)
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
            exchange: endpoint.exchange,
            authorizeDevice: { _, _ in .success(device.authorization) },
            pollDevice: { code, _, _ in await device.poll(code) })
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

    /// Starts a device login and collects the two sleeps it begins: the codes' lifetime and the first poll's wait.
    func startDevice(_ manager: LoginManager, _ started: inout AsyncStream<Duration>.Iterator) async throws -> LoginManager.Ticket {
        let ticket = try await manager.startDevice(profile: "work", settings: settings, clientSecret: nil)
        var first = [await started.next(), await started.next()].compactMap { $0 }
        first.sort()
        #expect(first == [.seconds(5), .seconds(600)])
        return ticket
    }

    @Test("a device login polls at the interval; slow_down adds 5 s to every later poll; the tokens end it")
    func devicePolling() async throws {
        let manager = manager()
        device.answers.withLock {
            $0 = [.failure(DeviceEndpoint.refusal("authorization_pending")), .failure(DeviceEndpoint.refusal("slow_down"))]
        }
        var started = timers.started.makeAsyncIterator()
        var polled = device.polled.makeAsyncIterator()
        let ticket = try await startDevice(manager, &started)
        #expect(ticket.device?.userCode == "WDJB-MJHT")
        #expect(ticket.authorizeURL == "http://127.0.0.1:9/device?code=WDJB-MJHT")
        #expect(ticket.redirectURI == nil)

        timers.advance(.seconds(5))
        #expect(await polled.next() == "dc-1")  // authorization_pending
        #expect(await started.next() == .seconds(5))
        timers.advance(.seconds(5))
        #expect(await polled.next() == "dc-1")  // slow_down
        #expect(await started.next() == .seconds(10))
        // Nine seconds on, the slowed poll is still waiting.
        timers.advance(.seconds(9))
        #expect(timers.sleeping == 2)
        timers.advance(.seconds(1))
        #expect(await polled.next() == "dc-1")  // authorization_pending: the interval stays 10 s
        #expect(await started.next() == .seconds(10))
        device.answers.withLock { $0 = [.success(tokens)] }
        async let outcome = manager.wait(ticket.id, seconds: 60)
        #expect(await started.next() == .seconds(60))
        timers.advance(.seconds(10))
        #expect(await polled.next() == "dc-1")
        #expect(try await outcome == .succeeded)
        #expect(installed.tokens.withLock { $0.map(\.token) } == ["at-login"])
        #expect(timers.sleeping == 0)
    }

    @Test("a device login ends at access_denied, at expired_token, and when its codes' lifetime runs out on the injected clock")
    func deviceEnds() async throws {
        let manager = manager()
        var started = timers.started.makeAsyncIterator()
        var polled = device.polled.makeAsyncIterator()
        for (code, reason) in [
            ("access_denied", "the sign-in was denied at the authorization server"),
            ("expired_token", "the code expired before the sign-in was approved: run `claude-auth login --device` again"),
        ] {
            device.answers.withLock { $0 = [.failure(DeviceEndpoint.refusal(code))] }
            let ticket = try await startDevice(manager, &started)
            timers.advance(.seconds(5))
            #expect(await polled.next() == "dc-1")
            #expect(try await manager.wait(ticket.id, seconds: 60) == .failed(reason))
            #expect(timers.sleeping == 0)
        }

        let ticket = try await startDevice(manager, &started)
        for _ in 0..<119 {
            timers.advance(.seconds(5))
            #expect(await polled.next() == "dc-1")
            #expect(await started.next() == .seconds(5))
        }
        // The codes expire as the 120th poll falls due: the login fails, whichever of the two runs first.
        timers.advance(.seconds(5))
        #expect(try await manager.wait(ticket.id, seconds: 60) == .failed("the login was not completed within 600 s"))
        #expect(installed.count == 0)
        // A pasted code is no way to finish a device login.
        await #expect(throws: ServiceError.self) { try await manager.submit(ticket.id, input: "code") }
    }
}
