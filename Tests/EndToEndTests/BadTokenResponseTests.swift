import ClaudeAuthAPI
import Foundation
import Testing

/// A login whose token endpoint misbehaves: each bad answer is a clear failed login, never a crash and never a
/// stored credential.
@Suite("login against a misbehaving token endpoint")
struct BadTokenResponseTests {
    /// The bad answers, by the code the test sends; and what the failed login must say.
    static let cases: [(code: String, answer: FaultyTokenEndpoint.Answer, says: String)] = [
        ("html", .respond(status: 200, headers: [("content-type", "text/html")], body: Array("<html>Sign in</html>".utf8)), "HTML, not JSON"),
        ("empty", .respond(status: 200, headers: [], body: []), "an empty body"),
        ("truncated", .json(200, #"{"access_token":"at","expires_in":36"#), "malformed or truncated JSON"),
        ("missing", .json(200, #"{"token_type":"bearer","expires_in":3600}"#), "access_token is missing"),
        ("types", .json(200, #"{"access_token":["at"],"expires_in":"soon"}"#), "access_token must be a non-empty string"),
        ("huge", .respond(status: 200, headers: [], body: [UInt8](repeating: 0x7B, count: 3 << 20)), "larger than 1048576 bytes"),
        ("denied", .json(400, #"{"error":"invalid_grant","error_description":"code expired"}"#), "invalid_grant (code expired)"),
        ("down", .respond(status: 503, headers: [], body: Array("<html>maintenance</html>".utf8)), "answered 503 with HTML"),
    ]

    @Test("every bad answer fails the login with a clear message; nothing is stored; the daemon keeps serving")
    func badAnswers() async throws {
        let endpoint = try await FaultyTokenEndpoint { request in
            let code = TokenEndpointClientTests.form(request.body)["code"] ?? ""
            return Self.cases.first { $0.code == code }?.answer ?? .json(500, "{}")
        }
        let sandbox = try Sandbox()
        let redirectPort = try freePort()
        try sandbox.writeConfig(oauthProfile("faulty", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        let daemon = try DaemonProcess(sandbox: sandbox)
        for (code, _, says) in Self.cases {
            let ticket = try sandbox.startLogin("faulty")
            #expect(try sandbox.deliverRedirect(ticket, port: redirectPort, code: code).contains("Sign-in failed"), "\(code)")
            let status = try sandbox.loginStatus(ticket.loginID)
            #expect(status.state == .failed, "\(code)")
            #expect(status.error?.contains(says) == true, "\(code): \(status.error ?? "")")
            let stored = (try? FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/credentials")) ?? []
            #expect(stored.isEmpty, "\(code)")
        }
        #expect(try sandbox.client(["token", "--profile", "faulty"]).status == 77)
        #expect(daemon.process.isRunning)
        daemon.stop()
        await endpoint.stop()
    }
}

/// Refreshes whose token endpoint misbehaves: a bad answer is a failed attempt with a clear reason, the token held
/// keeps being served and stays stored, and only a dead grant moves the profile to `login_required`.
@Suite("refresh against a misbehaving token endpoint")
struct BadRefreshResponseTests {
    static let slow = FaultyTokenEndpoint.Answer.respond(
        status: 429, headers: [("content-type", "application/json"), ("retry-after", "30")], body: Array(#"{"error":"rate_limited"}"#.utf8))

    @Test("each bad refresh answer: the old token stays served and stored; a dead grant requires a login; Retry-After holds")
    func badRefreshAnswers() async throws {
        let cases = BadTokenResponseTests.cases + [("slow", Self.slow, "answered 429")]
        // The login's code names the case; the refresh token carries it to the refresh grant.
        let endpoint = try await FaultyTokenEndpoint { request in
            let form = TokenEndpointClientTests.form(request.body)
            if let code = form["code"] {
                return .json(200, #"{"access_token":"at-\#(code)","refresh_token":"rt-\#(code)","expires_in":3600,"token_type":"bearer"}"#)
            }
            let name = String((form["refresh_token"] ?? "").dropFirst(3))
            return cases.first { $0.code == name }?.answer ?? .json(500, "{}")
        }
        let sandbox = try Sandbox()
        let redirectPort = try freePort()
        try sandbox.writeConfig(cases.map { name, _, _ in
            oauthProfile(name, clientID: "c", tokenURL: endpoint.url, scopes: [name], redirectPort: redirectPort, extra: "token_timeout = 15")
        }.joined())
        let daemon = try DaemonProcess(sandbox: sandbox)
        let started = Date()
        for (name, _, says) in cases {
            let ticket = try sandbox.startLogin(name)
            _ = try sandbox.deliverRedirect(ticket, port: redirectPort, code: name)
            #expect(try sandbox.loginStatus(ticket.loginID).state == .succeeded, "\(name)")

            let refresh = try sandbox.client(["refresh", "--profile", name])
            let token = try sandbox.client(["token", "--profile", name])
            if name == "denied" {
                #expect(refresh.status == 77, "\(name): \(refresh.stderr)")
                #expect(token.status == 77)
                #expect(token.stderr.contains("claude-auth login --profile denied"))
            } else {
                #expect(refresh.status == 75, "\(name): \(refresh.stderr)")
                #expect(refresh.stderr.contains(says), "\(name): \(refresh.stderr)")
                #expect(token.status == 0)
                #expect(token.stdout == "at-\(name)\n")
            }
        }
        let status = try JSONDecoder.api().decode(StatusResponse.self, from: Data(try sandbox.curl(["http://localhost/v1/status"]).stdout.utf8))
        let slow = try #require(status.profiles.first { $0.name == "slow" }?.refresh)
        let last = try #require(slow.last)
        #expect(last.result == "failed")
        #expect(slow.consecutiveFailures == 1)
        #expect(try #require(slow.nextRefreshAt).timeIntervalSince(last.at) >= 29.9)
        // No retry storm: the dead grant and the rate-limited one were tried once, the others only as often as a
        // backoff from 0.5 s, doubling, allows in the time the test took.
        let elapsed = Date().timeIntervalSince(started)
        let allowed = 1 + Int(log2(elapsed / 0.5 + 1).rounded(.up))
        for (name, _, _) in cases {
            let tries = endpoint.requests.filter { TokenEndpointClientTests.form($0.body)["refresh_token"] == "rt-\(name)" }.count
            let limit = name == "denied" || (name == "slow" && elapsed < 30) ? 1 : allowed
            #expect(tries >= 1 && tries <= limit, "\(name): \(tries) tries in \(elapsed) s")
        }
        #expect(daemon.process.isRunning)
        daemon.stop()
        await endpoint.stop()
    }
}
