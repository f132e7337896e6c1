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
        try sandbox.writeConfig(
            """
            [profiles.faulty]
            kind = "oauth"
            client_id = "c"
            authorize_url = "http://127.0.0.1:9/authorize"
            token_url = "\(endpoint.url)"
            redirect_port = \(redirectPort)
            """)
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
