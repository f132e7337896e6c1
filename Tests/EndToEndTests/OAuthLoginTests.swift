import ClaudeAuthAPI
import Foundation
import Testing

/// OAuth login performed by the daemon against a real authorization server (glewlwyd), a scripted browser
/// playing the user.
@Suite("OAuth login against glewlwyd")
struct OAuthLoginTests {
    let sandbox: Sandbox
    let server: GlewlwydServer
    let redirectPort: Int

    init() throws {
        sandbox = try Sandbox()
        redirectPort = try freePort()
        server = try GlewlwydServer(redirectPorts: [redirectPort])
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
            headers = { "anthropic-beta" = "oauth-2025-04-20" }
            # glewlwyd does not let this public client revoke: a real failed revocation.
            revocation_url = "\(server.tokenURL.replacingOccurrences(of: "/token", with: "/revoke"))"

            [profiles.second]
            kind = "oauth"
            client_id = "\(server.clientID)"
            authorize_url = "\(server.authorizeURL)"
            token_url = "\(server.tokenURL)"
            scopes = ["openid", "offline_access", "profile"]
            redirect_port = \(redirectPort)

            [profiles.quick]
            kind = "oauth"
            client_id = "\(server.clientID)"
            authorize_url = "\(server.authorizeURL)"
            token_url = "\(server.tokenURL)"
            redirect_port = \(redirectPort)
            login_timeout = 5
            """)
    }

    func startLogin(_ profile: String = "work") throws -> LoginTicketResponse {
        try sandbox.startLogin(profile)
    }

    func loginStatus(_ id: String) throws -> LoginStatusResponse {
        try sandbox.loginStatus(id)
    }

    @Test("browser login: the redirect reaches the daemon's listener, the token is served, survives a restart, and logout forgets it")
    func browserLogin() throws {
        var daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try sandbox.client(["header", "--profile", "work"]).status == 77)

        let ticket = try startLogin()
        #expect(ticket.redirectURI == "http://localhost:\(redirectPort)/callback")
        let parameters = queryParameters(ticket.authorizeURL)
        #expect(parameters["code_challenge_method"] == "S256")
        #expect(parameters["nonce"] != nil)
        #expect(parameters["scope"] == "openid offline_access")

        let landing = try server.signIn(ticket.authorizeURL)
        let page = try runCommand(which("curl")!, ["-sS", "-4", landing], environment: sandbox.environment())
        #expect(page.stdout.contains("Signed in"))
        #expect(!page.stdout.contains(queryParameters(landing)["code"]!))
        #expect(try loginStatus(ticket.loginID) == LoginStatusResponse(state: .succeeded))

        // Nothing listens on the redirect port once the login is over.
        #expect(throws: (any Error).self) { try RawTCPConnection(port: redirectPort) }

        let header = try sandbox.client(["header", "--profile", "work"])
        #expect(header.status == 0)
        let lines = header.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("Authorization: Bearer "))
        #expect(lines[1] == "anthropic-beta: oauth-2025-04-20")
        let token = String(lines[0].dropFirst("Authorization: Bearer ".count))
        let userinfo = try runCommand(
            which("curl")!, ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)", server.userinfoURL],
            environment: sandbox.environment())
        #expect(userinfo.stdout == "200")

        let credentials = sandbox.stateDirectory + "/credentials"
        let files = try FileManager.default.contentsOfDirectory(atPath: credentials)
        #expect(files.count == 1)
        #expect(try sandbox.mode(of: credentials + "/" + files[0]) == 0o600)
        #expect(daemon.stop() == 0)

        daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == token + "\n")

        let logout = try sandbox.curl(["-X", "POST", "http://localhost/v1/logout?profile=work"])
        let answer = try JSONDecoder.api().decode(LogoutResponse.self, from: Data(logout.stdout.utf8))
        #expect(answer.profile == "work")
        // The failed revocation is reported, and the local logout happens anyway.
        #expect(answer.revoked == false)
        #expect(answer.revocationError?.hasPrefix("the revocation endpoint answered 4") == true, "\(String(describing: answer.revocationError))")
        #expect(!answer.revocationError!.contains(token))
        #expect(try FileManager.default.contentsOfDirectory(atPath: credentials).isEmpty)
        let after = try sandbox.client(["header", "--profile", "work"])
        #expect(after.status == 77)
        #expect(after.stderr.contains("claude-auth login --profile work"))
        let status = try JSONDecoder.api().decode(StatusResponse.self, from: Data(try sandbox.client(["status", "--json"]).stdout.utf8))
        #expect(status.profiles.first { $0.name == "work" }?.state == .loginRequired)
        let log = daemon.log()
        daemon.stop()
        #expect(!log.contains(token))
        #expect(!log.contains(queryParameters(landing)["code"]!))
    }

    @Test("a redirect with the wrong state is refused and the login keeps waiting; error= ends it")
    func wrongStateAndError() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        let ticket = try startLogin()
        let base = "http://127.0.0.1:\(redirectPort)/callback"
        let wrong = try runCommand(which("curl")!, ["-sS", "-w", "%{http_code}", base + "?code=abc&state=forged<script>"], environment: sandbox.environment())
        #expect(wrong.stdout.hasSuffix("400"))
        #expect(!wrong.stdout.contains("forged"))
        #expect(!wrong.stdout.contains("<script>"))
        let other = try runCommand(which("curl")!, ["-sS", "-w", "%{http_code}", "http://127.0.0.1:\(redirectPort)/elsewhere"], environment: sandbox.environment())
        #expect(other.stdout.hasSuffix("404"))
        #expect(try sandbox.curl(["http://localhost/v1/login/\(ticket.loginID)"]).stdout.contains("\"state\":\"pending\""))

        let state = queryParameters(ticket.authorizeURL)["state"]!
        _ = try runCommand(which("curl")!, ["-sS", base + "?error=access_denied&state=\(state)"], environment: sandbox.environment())
        let status = try loginStatus(ticket.loginID)
        #expect(status.state == .failed)
        #expect(status.error?.contains("access_denied") == true)
        #expect(throws: (any Error).self) { try RawTCPConnection(port: redirectPort) }
        daemon.stop()
    }

    @Test("manual login: a bare code, code#state, or the whole redirect URL finishes it")
    func manual() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        for form in ["url", "code#state", "code"] {
            let ticket = try startLogin()
            let landing = try server.signIn(ticket.authorizeURL)
            let query = queryParameters(landing)
            let pasted = switch form {
            case "url": landing
            case "code#state": "\(query["code"]!)#\(query["state"]!)"
            default: query["code"]!
            }
            let body = String(decoding: try JSONEncoder().encode(LoginCodeRequest(code: pasted)), as: UTF8.self)
            let answer = try sandbox.curl(["-X", "POST", "-d", body, "http://localhost/v1/login/\(ticket.loginID)/code"])
            #expect(answer.stdout.contains("\"state\":\"succeeded\""), "\(form): \(answer.stdout)")
            #expect(try sandbox.client(["header", "--profile", "work"]).status == 0)
        }
        daemon.stop()
    }
}

extension OAuthLoginTests {
    @Test("two profiles side by side keep their own tokens; logging out of one leaves the other")
    func twoProfiles() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        for profile in ["work", "second"] {
            let ticket = try startLogin(profile)
            let body = String(decoding: try JSONEncoder().encode(LoginCodeRequest(code: try server.signIn(ticket.authorizeURL))), as: UTF8.self)
            #expect(try sandbox.curl(["-X", "POST", "-d", body, "http://localhost/v1/login/\(ticket.loginID)/code"]).stdout.contains("succeeded"))
        }
        let work = try sandbox.client(["token", "--profile", "work"]).stdout
        let second = try sandbox.client(["token", "--profile", "second"]).stdout
        #expect(!work.isEmpty && !second.isEmpty && work != second)
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/credentials").count == 2)
        _ = try sandbox.curl(["-X", "POST", "http://localhost/v1/logout?profile=work"])
        #expect(try sandbox.client(["token", "--profile", "work"]).status == 77)
        #expect(try sandbox.client(["token", "--profile", "second"]).stdout == second)
        daemon.stop()
    }

    @Test("a login not completed in time fails cleanly and its listener closes")
    func timeout() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        let ticket = try startLogin("quick")
        _ = try RawTCPConnection(port: redirectPort)
        let status = try loginStatus(ticket.loginID)
        #expect(status.state == .failed)
        #expect(status.error == "the login was not completed within 5 s")
        #expect(throws: (any Error).self) { try RawTCPConnection(port: redirectPort) }
        daemon.stop()
    }

    @Test("a busy fixed port is a clear error")
    func busyPort() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        let blocker = try TCPListener(port: redirectPort)
        let answer = try sandbox.curl(["-w", "\n%{http_code}", "-X", "POST", "-d", #"{"profile":"work"}"#, "http://localhost/v1/login"])
        #expect(answer.stdout.hasSuffix("\n400"))
        #expect(answer.stdout.contains("cannot listen for the sign-in redirect on 127.0.0.1:\(redirectPort)"))
        _ = blocker
        daemon.stop()
    }

    @Test("the listener binds the loopback addresses only")
    func loopbackOnly() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        _ = try startLogin()
        // The kernel's tables of listening sockets (state 0A) on the redirect port: local addresses in hex. Each table is
        // read to its end: `String(contentsOfFile:)` reads a /proc file's first page only, and while other tests run the
        // IPv4 table is longer than that.
        let port = String(format: "%04X", redirectPort)
        var addresses: Set<String> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = String(decoding: try FileHandle(forReadingFrom: URL(fileURLWithPath: table)).readToEnd() ?? Data(), as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3, fields[3] == "0A", fields[1].hasSuffix(":" + port) else { continue }
                addresses.insert(String(fields[1].dropLast(5)))
            }
        }
        #expect(addresses.contains("0100007F"))
        #expect(addresses.isSubset(of: ["0100007F", "00000000000000000000000001000000"]), "\(addresses)")
        _ = try RawTCPConnection(port: redirectPort)
        daemon.stop()
    }
}

/// A TCP listener on 127.0.0.1 that accepts nothing: it keeps a port busy.
final class TCPListener {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard withLoopbackAddress(port: port, { bind(fd, $0, $1) }) == 0, listen(fd, 1) == 0 else { throw HarnessError(description: "cannot hold port \(port)") }
    }

    deinit {
        close(fd)
    }
}

/// A TCP connection to 127.0.0.1, to see whether anything listens.
struct RawTCPConnection {
    init(port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        guard withLoopbackAddress(port: port, { connect(fd, $0, $1) }) == 0 else { throw HarnessError(description: "nothing listens on 127.0.0.1:\(port)") }
    }
}
