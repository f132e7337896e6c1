import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Testing

/// Inputs that once crashed, hung, robbed or flooded the daemon (issue 10), each driven through the real binaries:
/// each must now get a clear error while the daemon keeps serving and keeps what it held.
@Suite("hostile input")
struct HostileInputTests {
    let sandbox: Sandbox
    let redirectPort: Int

    init() throws {
        sandbox = try Sandbox()
        redirectPort = try freePort()
    }

    /// A token endpoint that answers a login's code `C` with tokens `at-C`/`rt-C` (`answer` may say otherwise) and
    /// a refresh with `refresh(refreshToken)`.
    func endpoint(
        login: @escaping @Sendable (String) -> FaultyTokenEndpoint.Answer? = { _ in nil },
        refresh: @escaping @Sendable (String) -> FaultyTokenEndpoint.Answer = { _ in .json(500, "{}") }
    ) async throws -> FaultyTokenEndpoint {
        try await FaultyTokenEndpoint { request in
            let form = TokenEndpointClientTests.form(request.body)
            if let code = form["code"] {
                return login(code) ?? .json(200, #"{"access_token":"at-\#(code)","refresh_token":"rt-\#(code)","expires_in":3600,"token_type":"bearer"}"#)
            }
            return refresh(form["refresh_token"] ?? "")
        }
    }

    /// The identity under which the daemon stores the tokens of `oauthProfile(_:clientID:tokenURL:…)`.
    func storedIdentity(clientID: String, tokenURL: String) -> CredentialIdentity {
        OAuthSettings(clientID: clientID, endpoints: OAuthEndpoints(authorize: "http://127.0.0.1:9/authorize", token: tokenURL)).identity
    }

    func logIn(_ profile: String, code: String) throws -> LoginStatusResponse {
        let ticket = try sandbox.startLogin(profile)
        _ = try sandbox.deliverRedirect(ticket, port: redirectPort, code: code)
        return try sandbox.loginStatus(ticket.loginID)
    }

    func health() throws -> Bool {
        try sandbox.curl(["http://localhost/v1/health"]).stdout.contains(#""status":"ok""#)
    }

    @Test("malformed manual pastes (?#, x?#, a?##, …) are refused with a clear error; the login keeps waiting and the daemon lives")
    func malformedPaste() async throws {
        let endpoint = try await endpoint()
        try sandbox.writeConfig(oauthProfile("work", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        let daemon = try DaemonProcess(sandbox: sandbox)
        // The client, as a user would paste it.
        let client = try sandbox.client(["login", "--manual", "--profile", "work"], stdin: "x?#\n")
        #expect(client.status != 0)
        #expect(client.stderr.contains("not a code"), "\(client.stderr)")
        #expect(daemon.process.isRunning)
        let answer = try sandbox.curl(["-X", "POST", "-d", #"{"profile":"work","mode":"manual"}"#, "http://localhost/v1/login"]).stdout
        let ticket = try JSONDecoder.api().decode(LoginTicketResponse.self, from: Data(answer.utf8))
        for pasted in ["?#", "x?#", "a?##", "#", "?code=%zz", "http://localhost/callback?state=x#"] {
            let body = String(decoding: try JSONEncoder().encode(LoginCodeRequest(code: pasted)), as: UTF8.self)
            let reply = try sandbox.curl(["-X", "POST", "-d", body, "http://localhost/v1/login/\(ticket.loginID)/code"]).stdout
            #expect(reply.contains("invalid_request"), "\(pasted): \(reply)")
            #expect(daemon.process.isRunning, "\(pasted)")
        }
        let still = try JSONDecoder.api().decode(
            LoginStatusResponse.self, from: Data(try sandbox.curl(["http://localhost/v1/login/\(ticket.loginID)"]).stdout.utf8))
        #expect(still.state == .pending)
        #expect(try health())
        daemon.stop()
        await endpoint.stop()
    }

    @Test(
        "configuration files that aborted the old TOML parser: located exit 78 at start and in --check-config, refused on reload",
        arguments: [("[!]", ":1:2:"), ("[&", ":1:2:"), ("[é]", ":1:2:"), ("[[!]]", ":1:3:"), ("[.", ":1:2:")])
    func abortingConfiguration(text: String, location: String) throws {
        try sandbox.writeConfig(text)
        let check = try runCommand(Binaries.daemon, ["--check-config", "--config", sandbox.configPath], environment: sandbox.environment())
        #expect(check.status == 78, "\(check.stderr)")
        #expect(check.stderr.hasPrefix("claude-authd: \(sandbox.configPath)\(location) invalid TOML: expected a key"), "\(check.stderr)")
        let refused = try DaemonProcess(sandbox: sandbox, waitForReady: false)
        #expect(refused.waitForExit() == 78)
        #expect(refused.log().contains(sandbox.configPath + location))

        try sandbox.writeConfig("[profiles.default]\nkind = \"api-key\"\nkey_env = \"KEY\"\n")
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["KEY": "sk-kept"])
        try sandbox.writeConfig(text)
        let reload = try sandbox.curl(["-X", "POST", "http://localhost/v1/reload"]).stdout
        #expect(reload.contains("invalid_config") && reload.contains(sandbox.configPath + location), "\(reload)")
        daemon.signal(SIGHUP)
        #expect(daemon.notify.wait(for: "READY=1") != nil)
        #expect(daemon.process.isRunning)
        #expect(try sandbox.client(["token"]).stdout == "sk-kept\n")
        daemon.stop()
    }

    @Test("a refresh answered with an absurd expires_in is refused with a reason; the old token stays served and stored")
    func absurdLifetime() async throws {
        let endpoint = try await endpoint(refresh: { _ in
            .json(200, #"{"access_token":"at-absurd","refresh_token":"rt-absurd","token_type":"Bearer","expires_in":"9223372036854775807"}"#)
        })
        try sandbox.writeConfig(oauthProfile("work", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        var daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try logIn("work", code: "one").state == .succeeded)
        let refresh = try sandbox.client(["refresh", "--profile", "work"])
        #expect(refresh.status == 75, "\(refresh.stderr)")
        #expect(refresh.stderr.contains("expires_in 9223372036854775807 s is more than 3650 days"), "\(refresh.stderr)")
        #expect(daemon.process.isRunning)
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == "at-one\n")
        #expect(daemon.log().contains("event=refresh_failed"))
        daemon.stop()
        daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == "at-one\n")
        daemon.stop()
        await endpoint.stop()
    }

    @Test("a FIFO as key_file, client_secret_file or stored credential is refused at once; nothing waits on it")
    func fifos() async throws {
        let endpoint = try await endpoint()
        let keyFIFO = sandbox.root + "/key.fifo"
        let secretFIFO = sandbox.root + "/secret.fifo"
        #expect(mkfifo(keyFIFO, 0o600) == 0 && mkfifo(secretFIFO, 0o600) == 0)
        try sandbox.writeConfig(
            """
            [profiles.fifo]
            kind = "api-key"
            key_file = "\(keyFIFO)"
            [profiles.good]
            kind = "api-key"
            key_env = "GOOD_KEY"
            """ + "\n" + oauthProfile("secret", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort, extra: #"client_secret_file = "\#(secretFIFO)""#)
                + "\n" + oauthProfile("stored", clientID: "s", tokenURL: endpoint.url, redirectPort: redirectPort))
        // The oauth profile's credential file is a FIFO too: it is read at start.
        let store = CredentialStore(stateDirectory: sandbox.stateDirectory)
        try FileIO.ensurePrivateDirectory(store.directory)
        #expect(mkfifo(store.path(for: storedIdentity(clientID: "s", tokenURL: endpoint.url)), 0o600) == 0)

        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["GOOD_KEY": "sk-good"])
        // More requests for the FIFO than the runtime has threads: none may block one.
        let attempts = try (0..<4).map { _ in try sandbox.client(["token", "--profile", "fifo"]) }
        for attempt in attempts {
            #expect(attempt.status == 77, "\(attempt.stderr)")
            #expect(attempt.stderr.contains("is not a regular file"), "\(attempt.stderr)")
        }
        #expect(try sandbox.client(["token", "--profile", "good"]).stdout == "sk-good\n")
        let login = try sandbox.curl(["-X", "POST", "-d", #"{"profile":"secret"}"#, "http://localhost/v1/login"]).stdout
        #expect(login.contains("is not a regular file"), "\(login)")
        let status = try sandbox.client(["status", "--json"]).stdout
        #expect(status.contains("is not a regular file"), "\(status)")
        #expect(try health())
        daemon.stop()
        await endpoint.stop()
    }

    @Test("a thousand connections to a pending login's redirect port hold at most its bound; the socket API answers throughout")
    func redirectFlood() async throws {
        let endpoint = try await endpoint()
        try sandbox.writeConfig(oauthProfile("work", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        // A systemd-like limit of 1024 descriptors, hard: raising the soft limit cannot help here. Idle connections
        // are not timed out during the test, so only the listener's own bound can free them.
        let stderr = try sandbox.writeFile("daemon.err", "")
        let daemon = try DaemonProcess(
            sandbox: sandbox, arguments: ["--request-timeout", "600"],
            launch: .wrapped(executable: try #require(which("prlimit")), prefix: ["--nofile=1024:1024", "--"], stderr: stderr))
        let ticket = try sandbox.startLogin("work")
        var flood = try (0..<1200).map { _ in try FloodConnection(port: redirectPort) }
        // The daemon closes every connection past its bound; a daemon holding them all would close none.
        let closed = waitUntil(120, every: 50_000) { flood.filter(\.isClosedByPeer).count >= 1200 - 16 }
        #expect(closed, "\(flood.filter(\.isClosedByPeer).count) of 1200 closed")
        #expect(try health())
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(daemon.pid)/fd").count
        #expect(descriptors < 200, "the daemon holds \(descriptors) descriptors")
        // Once the flood ends, the login completes through the same listener.
        flood.removeAll()
        #expect(try waitUntil(60, every: 100_000) { try sandbox.deliverRedirect(ticket, port: redirectPort, code: "flood").contains("Signed in") })
        #expect(try sandbox.loginStatus(ticket.loginID).state == .succeeded)
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == "at-flood\n")
        daemon.stop()
        await endpoint.stop()
    }

    @Test("a login of 128 KiB tokens survives a restart; one byte more is refused, keeping the login held before")
    func largeLogin() async throws {
        let largest = String(repeating: "a", count: TokenSet.maximumTokenLength - 3)
        let endpoint = try await endpoint(login: { code in
            switch code {
            case "large": .json(200, #"{"access_token":"at-\#(largest)","refresh_token":"rt-\#(largest)","expires_in":3600,"token_type":"bearer"}"#)
            case "larger": .json(200, #"{"access_token":"at-\#(largest)b","refresh_token":"rt-x","expires_in":3600,"token_type":"bearer"}"#)
            default: nil
            }
        })
        try sandbox.writeConfig(oauthProfile("work", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        var daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try logIn("work", code: "large").state == .succeeded)
        let larger = try logIn("work", code: "larger")
        #expect(larger.state == .failed)
        #expect(larger.error?.contains("access_token is 131073 bytes") == true, "\(larger.error ?? "")")
        daemon.stop()
        daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == "at-\(largest)\n")
        daemon.stop()
        await endpoint.stop()
    }

    @Test("tokens stored with an issue time ahead of the clock and a failing endpoint: retries back off, no storm")
    func noStormWhenClockBehind() async throws {
        let endpoint = try await endpoint()
        try sandbox.writeConfig(oauthProfile("work", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        let issued = Date().addingTimeInterval(3600)
        let tokens = TokenSet(
            accessToken: Secret("at-future"), refreshToken: Secret("rt-future"), expiresAt: issued.addingTimeInterval(8 * 3600), scopes: nil,
            issuedAt: issued)
        try CredentialStore(stateDirectory: sandbox.stateDirectory).save(
            StoredCredential(identity: storedIdentity(clientID: "c", tokenURL: endpoint.url), profile: "work", tokens: tokens, storedAt: Date()))
        let daemon = try DaemonProcess(sandbox: sandbox)
        let refreshes = { endpoint.requests.filter { TokenEndpointClientTests.form($0.body)["refresh_token"] == "rt-future" } }
        #expect(waitUntil(120) { refreshes().count >= 3 })
        let times = refreshes().prefix(3).map(\.receivedAt)
        // Backoff waits at least half of 1 s, then of 2 s: a slower machine only makes the gaps longer.
        #expect(times[1].timeIntervalSince(times[0]) >= 0.45, "\(times)")
        #expect(times[2].timeIntervalSince(times[1]) >= 0.95, "\(times)")
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == "at-future\n")
        daemon.stop()
        await endpoint.stop()
    }

    @Test("an error_description echoing the refresh token reaches neither the log, nor status, nor the client")
    func echoedSecret() async throws {
        let endpoint = try await endpoint(refresh: { token in
            .json(503, #"{"error":"temporarily_unavailable","error_description":"cannot use \#(token) now\u001b[2J"}"#)
        })
        try sandbox.writeConfig(oauthProfile("work", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        let daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try logIn("work", code: "echoed-refresh-token").state == .succeeded)
        let refresh = try sandbox.client(["refresh", "--profile", "work"])
        #expect(refresh.status == 75)
        #expect(refresh.stderr.contains("cannot use [redacted] now"), "\(refresh.stderr)")
        let status = try sandbox.client(["status", "--json"]).stdout
        for text in [refresh.stderr, status, daemon.log()] {
            #expect(!text.contains("rt-echoed-refresh-token"))
            #expect(!text.contains("\u{1B}"))
        }
        daemon.stop()
        await endpoint.stop()
    }
}

/// A TCP connection to 127.0.0.1 that only sits there, as a flood would, and tells whether the peer closed it.
final class FloodConnection {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, withLoopbackAddress(port: port, { connect(fd, $0, $1) }) == 0 else {
            close(fd)
            throw HarnessError(description: "cannot connect to 127.0.0.1:\(port): \(errno)")
        }
    }

    deinit {
        close(fd)
    }

    /// Whether the peer has closed or reset the connection (a non-blocking look).
    var isClosedByPeer: Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }
}
