import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Testing

/// The refresh engine against a real authorization server, glewlwyd, with short-lived access tokens and
/// single-use refresh tokens: a second grant with a used refresh token revokes the whole chain, so any race,
/// lost rotation or storm shows as a logged-out user.
///
/// Each test makes its own server, with the shortest lifetime its own work allows: a test whose verdict counts
/// grants gets tokens that outlive everything it does, so a loaded machine cannot add a scheduled refresh to it.
@Suite("refresh against glewlwyd", .serialized)
struct RefreshTests {
    @Test("30 s of continuous requests: every token served is accepted, and refresh grants follow the lifetime")
    func continuous() throws {
        let fixture = try RefreshFixture(lifetime: 4, tokenTimeout: 15)
        let daemon = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        let grantsBefore = try fixture.server.grantsIssued()
        let start = Date()
        var served = 0
        var rejected: [String] = []
        var distinct = Set<String>()
        while Date().timeIntervalSince(start) < 30 {
            let asked = Date()
            let result = try fixture.token()
            #expect(result.status == 0, "\(result.stderr)")
            let token = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            served += 1
            distinct.insert(token)
            // A token served must be alive when served. Whether the server still takes it is a verdict only while
            // the check starts well inside its life: on a loaded machine the check may come after its end.
            let expiry = jwtExpiry(token)
            if let expiry, expiry <= asked { rejected.append("\(Secret(token).fingerprint) (served expired)") }
            let checked = Date()
            if try !fixture.server.accepts(token), expiry.map({ checked < $0.addingTimeInterval(-1) }) ?? true {
                rejected.append(Secret(token).fingerprint)
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(try fixture.status().refresh?.last?.result == "succeeded")
        // Stopped first, so a grant in flight is both counted by the server and logged by the daemon.
        #expect(daemon.stop() == 0)
        let grants = try fixture.server.grantsIssued() - grantsBefore
        // 4 s tokens, 3 s usable (the whole-second allowance), refreshed 70–80 % in: one grant every 2.1–2.4 s plus
        // the grant's own latency. A slower machine can only lower the count; a storm would raise it.
        #expect(rejected.isEmpty, "tokens the server refused: \(rejected)")
        #expect(grants <= Int(elapsed / 2.1) + 1, "\(grants) refresh grants in \(elapsed) s")
        #expect(grants >= Int(elapsed / 4), "\(grants) refresh grants in \(elapsed) s")
        #expect(distinct.count <= grants + 1)
        #expect(served >= 30)
        let log = daemon.log()
        let refreshLines = log.components(separatedBy: "\n").filter { $0.contains("event=refresh ") }
        #expect(refreshLines.count == grants)
        // One structured line per refresh, with fingerprints and never a token.
        #expect(refreshLines.allSatisfy { $0.contains("fingerprint=") && $0.contains("profile=work") })
        #expect(distinct.allSatisfy { !log.contains($0) })
    }

    @Test("a hundred clients reporting the same rejected token cause one refresh")
    func clientReported401() throws {
        // Tokens that outlive the hundred clients' start-up many times over: no scheduled refresh can join in.
        let fixture = try RefreshFixture(lifetime: 600, tokenTimeout: 15)
        let daemon = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        let seen = try fixture.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fingerprint = Secret(seen).fingerprint
        let grantsBefore = try fixture.server.grantsIssued()
        let results = try (0..<100).map { _ in
            try StartedCommand(Binaries.client, ["refresh", "--profile", "work", "--if-token-fingerprint", fingerprint], environment: fixture.sandbox.environment())
        }.map { try $0.finish(timeout: 60) }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr).filter { !$0.isEmpty }.prefix(3))")
        #expect(Set(results.map(\.stdout)).count == 1)
        #expect(results.contains { !$0.stderr.contains("already been replaced") })
        #expect(try fixture.server.grantsIssued() - grantsBefore == 1)
        let fresh = try fixture.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(fresh != seen)
        // The same report once more: the token has changed since, so nothing is refreshed.
        let late = try fixture.sandbox.client(["refresh", "--profile", "work", "--if-token"], stdin: seen + "\n")
        #expect(late.status == 0)
        #expect(late.stderr.contains("already been replaced"))
        #expect(try fixture.server.grantsIssued() - grantsBefore == 1)
        #expect(daemon.stop() == 0)
        let refreshLines = daemon.log().components(separatedBy: "\n").filter { $0.contains("event=refresh ") }
        #expect(refreshLines.count == 1 && refreshLines.allSatisfy { $0.contains("trigger=on_demand") }, "\(refreshLines)")
    }

    @Test("server stopped, then hanging past the clients' timeout: the valid token is served, then exit 75, then recovery")
    func outages() throws {
        // token_timeout 2: the hanging server outlasts what a client waits.
        let fixture = try RefreshFixture(lifetime: 4, tokenTimeout: 2)
        let daemon = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        for outage in ["stopped", "hanging"] {
            if outage == "stopped" { try fixture.server.stop() } else { fixture.server.signal(SIGSTOP) }
            // The token held stays served while it lasts, then clients are told the endpoint is unavailable.
            let expired = try fixture.poll(for: 20) { $0.status != 0 }
            #expect(expired.status == 75, "\(outage): \(expired.stderr)")
            #expect(expired.stderr.contains("expired and cannot be refreshed now"), "\(expired.stderr)")
            let unavailable = try fixture.status()
            #expect(unavailable.state == .unavailable)
            // Stopped: refused connections fail attempts; hanging: the one request stays open for the server's answer.
            #expect(unavailable.refresh.map { $0.refreshing || $0.consecutiveFailures >= 1 } == true)
            if outage == "stopped" { try fixture.server.restart() } else { fixture.server.signal(SIGCONT) }
            // Back by itself: the backoff retry succeeds and the new token is accepted.
            let back = try fixture.poll(for: 70) { $0.status == 0 }
            #expect(back.status == 0, "\(outage): not back: \(back.stderr)")
            #expect(try fixture.server.accepts(back.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try fixture.status().state == .ready)
        }
        // Never a refused refresh token: no grant raced another, and none given up on was processed later.
        #expect(!daemon.log().contains("event=refresh_refused"))
        #expect(daemon.stop() == 0)
    }

    @Test("a stop during a scheduled refresh waits for the server's answer and stores it")
    func stopDuringRefresh() throws {
        let fixture = try RefreshFixture(lifetime: 4, tokenTimeout: 15)
        var daemon = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        // The scheduled refresh (2–3 s in) goes to a stalled server.
        fixture.server.signal(SIGSTOP)
        #expect(try waitUntil(10) { try fixture.status().refresh?.refreshing == true })
        daemon.signal(SIGTERM)
        #expect(waitUntil(10) { daemon.log().contains("event=stopping") })
        // The server stays stalled a while into the stop, then answers.
        usleep(500_000)
        fixture.server.signal(SIGCONT)
        #expect(daemon.waitForExit() == 0)

        // Had the stop abandoned the grant, the server would have rotated the refresh token away from the store.
        daemon = try DaemonProcess(sandbox: fixture.sandbox)
        let forced = try fixture.sandbox.client(["refresh", "--profile", "work"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try fixture.server.accepts(try fixture.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(daemon.stop() == 0)
    }

    @Test("refresh tokens revoked at the server: login_required, persisted, no retries")
    func revoked() throws {
        // Long enough that the revocation lands before the first scheduled refresh (at 6–7 s).
        let fixture = try RefreshFixture(lifetime: 10, tokenTimeout: 15)
        var daemon = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        let loginGrants = try fixture.server.grantsIssued()
        try fixture.server.revokeRefreshTokens()
        try #require(try fixture.server.grantsIssued() == loginGrants, "a refresh raced the revocation: the harness, not the daemon")
        let refused = try fixture.poll(for: 20) { $0.status != 0 }
        #expect(refused.status == 77, "\(refused.stderr)")
        #expect(refused.stderr.contains("claude-auth login --profile work"))
        #expect(try fixture.status().state == .loginRequired)
        let grants = try fixture.server.grantsIssued()
        #expect(daemon.stop() == 0)

        // A restart remembers: no grant is tried with the dead refresh token.
        daemon = try DaemonProcess(sandbox: fixture.sandbox)
        #expect(try fixture.token().status == 77)
        #expect(try fixture.status().state == .loginRequired)
        #expect(try fixture.server.grantsIssued() == grants)
        #expect(daemon.log().contains("event=refresh") == false)
        #expect(daemon.stop() == 0)
    }

    @Test("kill -9 at random moments, again and again: the restarted daemon can always refresh")
    func killNine() throws {
        let fixture = try RefreshFixture(lifetime: 4, tokenTimeout: 15)
        var daemon: DaemonProcess? = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<15 {
            // Tokens last 4 s (3 s usable): within 3 s there is a refresh at start-up or on schedule.
            usleep(UInt32.random(in: 0..<3_000_000, using: &generator))
            // Not while a grant is at the server: a daemon killed then loses the rotated refresh token whatever it
            // does (the server has spent the old one). Everywhere else is fair game.
            try waitUntil(30, every: 20_000) {
                guard let refresh = try fixture.status().refresh, !refresh.refreshing else { return false }
                return (refresh.nextRefreshAt?.timeIntervalSinceNow ?? .infinity) > 1
            }
            daemon?.signal(SIGKILL)
            daemon?.waitForExit()
            daemon = try DaemonProcess(sandbox: fixture.sandbox)
        }
        // Forcing a grant proves the stored refresh token is the live one.
        let forced = try fixture.sandbox.client(["refresh", "--profile", "work"])
        #expect(forced.status == 0, "\(forced.stderr)")
        let served = try fixture.token()
        #expect(served.status == 0, "\(served.stderr)")
        #expect(try fixture.server.accepts(served.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(daemon?.stop() == 0)
    }
}

/// Many requests at the moment of expiry, with tokens that outlive the test's own work after the grant.
@Suite("refresh single flight against glewlwyd")
struct RefreshSingleFlightTests {
    let fixture: RefreshFixture

    init() throws {
        // Long enough that its proactive refresh (at 70–80 %) does not come while a loaded machine is still
        // answering the thousand requests.
        fixture = try RefreshFixture(lifetime: 30, tokenTimeout: 15)
    }

    @Test("1000 concurrent requests at expiry wait for one refresh grant, and the user stays logged in")
    func thousandAtExpiry() throws {
        var daemon = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        let old = try fixture.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(daemon.stop() == 0)
        // Until the server itself says the token has expired.
        #expect(try waitUntil(45, every: 100_000) { try !fixture.server.accepts(old) })
        let grantsBefore = try fixture.server.grantsIssued()

        // The server hangs, so the daemon's one refresh stays in flight while every request arrives.
        fixture.server.signal(SIGSTOP)
        daemon = try DaemonProcess(sandbox: fixture.sandbox)
        var connections: [RawConnection] = []
        for _ in 0..<1000 {
            let connection = try RawConnection(path: fixture.sandbox.socketPath)
            #expect(connection.send("GET /v1/token?profile=work HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
            connections.append(connection)
        }
        fixture.server.signal(SIGCONT)
        var tokens: [String: Int] = [:]
        for connection in connections {
            let response = connection.readToEnd(timeout: 30) ?? "(no answer)"
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response.prefix(200))")
            let token = response.components(separatedBy: "\r\n\r\n").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            tokens[token, default: 0] += 1
        }
        #expect(try fixture.server.grantsIssued() - grantsBefore == 1)
        #expect(tokens.count == 1)
        let fresh = try #require(tokens.keys.first)
        #expect(fresh != old)
        #expect(try fixture.server.accepts(fresh))
        // Still logged in: the next generation comes from the rotated refresh token.
        let next = try fixture.sandbox.curl(["-X", "POST", "http://localhost/v1/refresh?profile=work"])
        #expect(next.stdout.contains(#""refreshed":true"#), "\(next.stdout)")
        #expect(try fixture.server.grantsIssued() - grantsBefore == 2)
        #expect(try fixture.server.accepts(try fixture.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(daemon.stop() == 0)
    }
}

/// The `exp` claim of a JWT access token, if it is one.
func jwtExpiry(_ token: String) -> Date? {
    let parts = token.split(separator: ".")
    guard parts.count == 3 else { return nil }
    var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
    guard let data = Data(base64Encoded: payload),
        let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let exp = claims["exp"] as? Double
    else { return nil }
    return Date(timeIntervalSince1970: exp)
}
