import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Testing

/// The refresh engine against a real authorization server, glewlwyd, with short-lived access tokens and
/// single-use refresh tokens: a second grant with a used refresh token revokes the whole chain, so any race,
/// lost rotation or storm shows as a logged-out user.
@Suite("refresh against glewlwyd", .serialized)
struct RefreshTests {
    let sandbox: Sandbox
    let server: GlewlwydServer
    let redirectPort: Int

    init(lifetime: Int) throws {
        sandbox = try Sandbox()
        redirectPort = try freePort()
        server = try GlewlwydServer(redirectPorts: [redirectPort], accessTokenLifetime: lifetime, rotation: true)
        try sandbox.writeConfig(
            """
            default_profile = "work"
            [profiles.work]
            kind = "oauth"
            client_id = "\(server.clientID)"
            authorize_url = "\(server.authorizeURL)"
            token_url = "\(server.tokenURL)"
            scopes = ["openid", "offline_access"]
            redirect_port = \(redirectPort)
            token_timeout = 2
            """)
    }

    init() throws {
        try self.init(lifetime: 4)
    }

    /// Logs in through the daemon, the scripted browser playing the user.
    func logIn() throws {
        let ticket = try sandbox.startLogin("work")
        let landing = try server.signIn(ticket.authorizeURL)
        _ = try runCommand(which("curl")!, ["-sS", "-4", landing], environment: sandbox.environment())
        #expect(try sandbox.loginStatus(ticket.loginID).state == .succeeded)
    }

    func token() throws -> CommandResult {
        try sandbox.client(["token", "--profile", "work"])
    }

    func status() throws -> StatusResponse.Profile {
        let answer = try sandbox.curl(["http://localhost/v1/status"]).stdout
        return try #require(try JSONDecoder.api().decode(StatusResponse.self, from: Data(answer.utf8)).profiles.first { $0.name == "work" })
    }

    /// Asks for the token every 50 ms until `done` holds for the answer, for at most `limit` seconds.
    func poll(for limit: TimeInterval, until done: (CommandResult) throws -> Bool) throws -> CommandResult {
        let deadline = Date().addingTimeInterval(limit)
        while true {
            let result = try token()
            if try done(result) || Date() > deadline { return result }
            usleep(50_000)
        }
    }

    @Test("30 s of continuous requests: every token served is accepted, and refresh grants follow the lifetime")
    func continuous() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        try logIn()
        let grantsBefore = try server.grantsIssued()
        let start = Date()
        var served = 0
        var rejected: [String] = []
        var distinct = Set<String>()
        while Date().timeIntervalSince(start) < 30 {
            let result = try token()
            #expect(result.status == 0, "\(result.stderr)")
            let token = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            served += 1
            distinct.insert(token)
            if try !server.accepts(token) { rejected.append(Secret(token).fingerprint) }
        }
        let grants = try server.grantsIssued() - grantsBefore
        // 4 s tokens, 3 s usable (the whole-second allowance), refreshed 70–80 % in: one grant every 2.1–2.4 s.
        #expect(rejected.isEmpty, "tokens the server refused: \(rejected)")
        #expect((11...15).contains(grants), "\(grants) refresh grants in 30 s")
        #expect(distinct.count <= grants + 1)
        #expect(served > 100)
        let refreshLines = daemon.log().components(separatedBy: "\n").filter { $0.contains("event=refresh ") }
        #expect(refreshLines.count == grants)
        #expect(try status().refresh?.last?.result == "succeeded")
        #expect(daemon.stop() == 0)
    }

    @Test("1000 concurrent requests at expiry wait for one refresh grant, and the user stays logged in")
    func thousandAtExpiry() throws {
        var daemon = try DaemonProcess(sandbox: sandbox)
        try logIn()
        let old = try token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(daemon.stop() == 0)
        // Until the server itself says the token has expired.
        let deadline = Date().addingTimeInterval(10)
        while try server.accepts(old), Date() < deadline { usleep(100_000) }
        #expect(try !server.accepts(old))
        let grantsBefore = try server.grantsIssued()

        // The server hangs, so the daemon's one refresh stays in flight while every request arrives.
        server.signal(SIGSTOP)
        daemon = try DaemonProcess(sandbox: sandbox)
        var connections: [RawConnection] = []
        for _ in 0..<1000 {
            let connection = try RawConnection(path: sandbox.socketPath)
            #expect(connection.send("GET /v1/token?profile=work HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
            connections.append(connection)
        }
        server.signal(SIGCONT)
        var tokens: [String: Int] = [:]
        for connection in connections {
            let response = connection.readToEnd(timeout: 30) ?? "(no answer)"
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response.prefix(200))")
            let token = response.components(separatedBy: "\r\n\r\n").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            tokens[token, default: 0] += 1
        }
        #expect(try server.grantsIssued() - grantsBefore == 1)
        #expect(tokens.count == 1)
        let fresh = try #require(tokens.keys.first)
        #expect(fresh != old)
        #expect(try server.accepts(fresh))
        // Still logged in: the next generation comes from the rotated refresh token.
        let next = try sandbox.curl(["-X", "POST", "http://localhost/v1/refresh?profile=work"])
        #expect(next.stdout.contains(#""refreshed":true"#), "\(next.stdout)")
        #expect(try server.grantsIssued() - grantsBefore == 2)
        #expect(try server.accepts(try token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(daemon.stop() == 0)
    }

    @Test("a hundred clients reporting the same rejected token cause one refresh")
    func clientReported401() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        try logIn()
        let seen = try token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fingerprint = Secret(seen).fingerprint
        let grantsBefore = try server.grantsIssued()
        let results = try (0..<100).map { _ in
            try StartedCommand(Binaries.client, ["refresh", "--profile", "work", "--if-token-fingerprint", fingerprint], environment: sandbox.environment())
        }.map { try $0.finish(timeout: 30) }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr).filter { !$0.isEmpty }.prefix(3))")
        #expect(Set(results.map(\.stdout)).count == 1)
        #expect(try server.grantsIssued() - grantsBefore == 1)
        // The same report once more: the token has changed since, so nothing is refreshed.
        let late = try sandbox.client(["refresh", "--profile", "work", "--if-token"], stdin: seen + "\n")
        #expect(late.status == 0)
        #expect(late.stderr.contains("already been replaced"))
        #expect(try server.grantsIssued() - grantsBefore == 1)
        #expect(daemon.stop() == 0)
    }

    @Test("server stopped, then hanging past the clients' timeout: the valid token is served, then exit 75, then recovery")
    func outages() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        try logIn()
        for outage in ["stopped", "hanging"] {
            if outage == "stopped" { try server.stop() } else { server.signal(SIGSTOP) }
            // The token held stays served while it lasts, then clients are told the endpoint is unavailable.
            let expired = try poll(for: 20) { $0.status != 0 }
            #expect(expired.status == 75, "\(outage): \(expired.stderr)")
            #expect(expired.stderr.contains("expired and cannot be refreshed now"), "\(expired.stderr)")
            let unavailable = try status()
            #expect(unavailable.state == .unavailable)
            // Stopped: refused connections fail attempts; hanging: the one request stays open for the server's answer.
            #expect(unavailable.refresh.map { $0.refreshing || $0.consecutiveFailures >= 1 } == true)
            if outage == "stopped" { try server.restart() } else { server.signal(SIGCONT) }
            // Back by itself: the backoff retry succeeds and the new token is accepted.
            let back = try poll(for: 70) { $0.status == 0 }
            #expect(back.status == 0, "\(outage): not back: \(back.stderr)")
            #expect(try server.accepts(back.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try status().state == .ready)
        }
        // Never a refused refresh token: no grant raced another, and none given up on was processed later.
        #expect(!daemon.log().contains("event=refresh_refused"))
        #expect(daemon.stop() == 0)
    }

    @Test("refresh tokens revoked at the server: login_required, persisted, no retries")
    func revoked() throws {
        var daemon = try DaemonProcess(sandbox: sandbox)
        try logIn()
        try server.revokeRefreshTokens()
        let refused = try poll(for: 20) { $0.status != 0 }
        #expect(refused.status == 77, "\(refused.stderr)")
        #expect(refused.stderr.contains("claude-auth login --profile work"))
        #expect(try status().state == .loginRequired)
        let grants = try server.grantsIssued()
        #expect(daemon.stop() == 0)

        // A restart remembers: no grant is tried with the dead refresh token.
        daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try token().status == 77)
        #expect(try status().state == .loginRequired)
        #expect(try server.grantsIssued() == grants)
        #expect(daemon.log().contains("event=refresh") == false)
        #expect(daemon.stop() == 0)
    }

    @Test("kill -9 at random moments, again and again: the restarted daemon can always refresh")
    func killNine() throws {
        var daemon: DaemonProcess? = try DaemonProcess(sandbox: sandbox)
        try logIn()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<15 {
            // Tokens last 4 s (3 s usable): within 3 s there is a refresh at start-up or on schedule.
            usleep(UInt32.random(in: 0..<3_000_000, using: &generator))
            daemon?.signal(SIGKILL)
            daemon?.waitForExit()
            daemon = try DaemonProcess(sandbox: sandbox)
        }
        // Forcing a grant proves the stored refresh token is the live one.
        let forced = try sandbox.client(["refresh", "--profile", "work"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let served = try token()
        #expect(served.status == 0, "\(served.stderr)")
        #expect(try server.accepts(served.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(daemon?.stop() == 0)
    }
}
