import CTestSupport
import ClaudeAuthAPI
import Foundation
import Testing

/// `issuer` in place of endpoint URLs, against glewlwyd's real metadata and a metadata server of the test's own for
/// the bad cases; and the device flow against glewlwyd, the test playing the user.
@Suite("discovery and the device flow, end to end")
struct DiscoveryEndToEndTests {
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    func token(_ profile: String = "work") throws -> CommandResult {
        try sandbox.client(["token", "--profile", profile])
    }

    @Test("only issuer and client_id: login, refresh; the issuer down and the daemon restarted, it serves and refreshes from what it kept; logout")
    func discoveredLifecycle() throws {
        let redirectPort = try freePort()
        let server = try GlewlwydServer(redirectPorts: [redirectPort])
        try sandbox.writeConfig(server.discoveredProfile("work", extra: "redirect_port = \(redirectPort)\ntoken_timeout = 3\n"))
        var daemon = try DaemonProcess(sandbox: sandbox)
        let ticket = try sandbox.startLogin("work")
        #expect(ticket.authorizeURL.hasPrefix(server.authorizeURL + "?"))
        #expect(ticket.deviceFlow)  // glewlwyd's metadata lists its device authorization endpoint
        let landing = try server.signIn(ticket.authorizeURL)
        _ = try runCommand(which("curl")!, ["-sS", "-4", landing], environment: sandbox.environment())
        #expect(try sandbox.loginStatus(ticket.loginID) == LoginStatusResponse(state: .succeeded))
        let first = try token().stdout
        #expect(try server.accepts(first.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try sandbox.client(["refresh", "--profile", "work"]).status == 0)
        let second = try token().stdout
        #expect(second != first)

        // What was read is kept, private, for a restart.
        let kept = try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/issuers")
        #expect(kept.count == 1)
        #expect(try sandbox.mode(of: sandbox.stateDirectory + "/issuers/" + (kept.first ?? "")) == 0o600)

        try server.stop()
        #expect(daemon.stop() == 0)
        daemon = try DaemonProcess(sandbox: sandbox)
        #expect(try token().stdout == second)
        // A refresh while the issuer is down falls back on the copy kept, and says so.
        #expect(try sandbox.client(["refresh", "--profile", "work"]).status != 0)
        #expect(waitUntil(30) { daemon.log().contains("event=issuer_metadata_kept") })
        try server.restart()
        #expect(try waitUntil(60, every: 500_000) { try sandbox.client(["refresh", "--profile", "work"]).status == 0 })
        let third = try token().stdout
        #expect(third != second)
        #expect(try server.accepts(third.trimmingCharacters(in: .whitespacesAndNewlines)))

        #expect(try sandbox.client(["logout", "--profile", "work"]).status == 0)
        #expect(try token().status == 77)
        #expect(daemon.stop() == 0)
    }

    @Test("the device flow against glewlwyd: the client prints the code, the test approves it as the user, the login survives the client's end; without a display no browser runs and login says what does")
    func deviceLogin() throws {
        let redirectPort = try freePort()
        let server = try GlewlwydServer(redirectPorts: [redirectPort])
        try sandbox.writeConfig(
            server.discoveredProfile("work", extra: "login_flow = \"device\"\n\n")
                + server.discoveredProfile("browser", scopes: ["openid"], extra: "redirect_port = \(redirectPort)\n"))
        let daemon = try DaemonProcess(sandbox: sandbox)
        try noDisplayLogin(server, redirectPort: redirectPort)
        var output: [Int32] = [0, 0]
        #expect(test_pipe_cloexec(&output) == 0)
        let errorPath = sandbox.root + "/login.err"
        let errorFD = try openOutput(errorPath)
        let nothing = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let child = try ChildProcess(
            Binaries.client, ["login", "--profile", "work"], environment: sandbox.environment(), stdin: nothing, stdout: output[1], stderr: errorFD)
        close(output[1])
        close(errorFD)
        close(nothing)
        defer { close(output[0]) }
        let userCode = try #require(readLine(from: output[0], timeout: 20))
        let complete = "\(server.issuer)/device?code=\(userCode)"
        #expect(waitUntil(20) { ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "").contains("Waiting for the sign-in") })
        let shown = try String(contentsOfFile: errorPath, encoding: .utf8)
        #expect(shown.contains("open \(server.issuer)/device on any device and enter this code"))
        #expect(shown.contains("(or open \(complete), which carries the code)"))
        // The user is slow: the client is interrupted before the approval, and the daemon keeps polling.
        child.signal(SIGINT)
        #expect(child.wait(timeout: 20) != nil)
        #expect(try token().status == 77)
        try server.approveDevice(complete)
        #expect(try waitUntil(60, every: 200_000) { try token().status == 0 })
        let served = try token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try server.accepts(served))
        #expect(try sandbox.client(["refresh", "--profile", "work"]).status == 0)
        #expect(try token().stdout.trimmingCharacters(in: .whitespacesAndNewlines) != served)
        #expect(daemon.stop() == 0)
    }

    @Test("metadata missing, malformed, huge, redirected, for another issuer or naming plain http: a located error, the daemon unharmed; RFC 8414's document when OpenID's is missing")
    func badMetadata() async throws {
        let cases: [(name: String, message: String)] = [
            ("missing", "/missing/.well-known/openid-configuration: 404; http://127.0.0.1:PORT/.well-known/oauth-authorization-server/missing: 404"),
            ("malformed", "the document is not a JSON object"),
            ("huge", "the document is larger than 256 KiB"),
            ("redirected", "it answered 302, a redirect to http://127.0.0.1:PORT/elsewhere, which is not followed"),
            ("other", "the document is for the issuer \"https://idp.example.com\""),
            ("plain", "token_endpoint \"http://idp.example.com/token\" is not an https URL"),
        ]
        let server = try await FaultyTokenEndpoint { request in
            let path = request.uri
            let origin = "http://127.0.0.1:\(request.headers.first(name: "host")?.split(separator: ":").last ?? "")"
            let good = { (issuer: String) in
                #"{"issuer":"\#(issuer)","authorization_endpoint":"\#(origin)/authorize","token_endpoint":"\#(origin)/token"}"#
            }
            switch path {
            case "/malformed/.well-known/openid-configuration": return .json(200, #"{"issuer": "#)
            case "/huge/.well-known/openid-configuration":
                return .json(200, #"{"issuer":"\#(origin)/huge","token_endpoint":"\#(origin)/t","pad":""# + String(repeating: "x", count: 300_000) + "\"}")
            case "/redirected/.well-known/openid-configuration":
                return .respond(status: 302, headers: [("location", "\(origin)/elsewhere")], body: [])
            case "/other/.well-known/openid-configuration": return .json(200, good("https://idp.example.com"))
            case "/plain/.well-known/openid-configuration":
                return .json(200, #"{"issuer":"\#(origin)/plain","token_endpoint":"http://idp.example.com/token"}"#)
            case "/.well-known/oauth-authorization-server/rfc8414": return .json(200, good("\(origin)/rfc8414"))
            default: return .json(404, "{}")
            }
        }
        defer { Task { await server.stop() } }
        let origin = "http://127.0.0.1:\(server.port)"
        try sandbox.writeConfig(
            (cases.map(\.name) + ["rfc8414"]).map { name in
                "[profiles.\(name)]\nkind = \"oauth\"\nissuer = \"\(origin)/\(name)\"\nclient_id = \"c\"\nredirect_port = 0\ntoken_timeout = 5\n"
            }.joined(separator: "\n"))
        let daemon = try DaemonProcess(sandbox: sandbox)
        for (name, message) in cases {
            let login = try sandbox.client(["login", "--profile", name, "--no-browser"])
            #expect(login.status != 0)
            let expected = message.replacing("PORT", with: "\(server.port)")
            #expect(login.stderr.contains("cannot read the metadata of the issuer \(origin)/\(name): "), "\(name): \(login.stderr)")
            #expect(login.stderr.contains(expected), "\(name): \(login.stderr)")
        }
        let ticket = try sandbox.startLogin("rfc8414")
        #expect(ticket.authorizeURL.hasPrefix("\(origin)/authorize?"))
        #expect(try sandbox.curl(["http://localhost/v1/health"]).stdout.contains("ok"))
        #expect(daemon.stop() == 0)
    }

    /// A browser login where DISPLAY and WAYLAND_DISPLAY are unset: xdg-open is never run, the advice names each way
    /// that applies, and the login waits for the user, who finishes it as `ssh -L` would let them.
    func noDisplayLogin(_ server: GlewlwydServer, redirectPort: Int) throws {
        try FileManager.default.createDirectory(atPath: sandbox.root + "/bin", withIntermediateDirectories: true)
        _ = try sandbox.writeFile("bin/xdg-open", "#!/bin/sh\ntouch \"\(sandbox.root)/xdg-open-ran\"\n", mode: 0o755)
        let path = sandbox.root + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        var output: [Int32] = [0, 0]
        #expect(test_pipe_cloexec(&output) == 0)
        let errorPath = sandbox.root + "/browser-login.err"
        let errorFD = try openOutput(errorPath)
        let nothing = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let child = try ChildProcess(
            Binaries.client, ["login", "--profile", "browser"], environment: sandbox.environment(["PATH": path]), stdin: nothing,
            stdout: output[1], stderr: errorFD)
        close(output[1])
        close(errorFD)
        close(nothing)
        defer { close(output[0]) }
        let url = try #require(readLine(from: output[0], timeout: 20))
        #expect(url.hasPrefix(server.authorizeURL + "?"))
        #expect(waitUntil(20) { ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "").contains("Waiting for the sign-in") })
        let advice = try String(contentsOfFile: errorPath, encoding: .utf8)
        #expect(advice.contains("No display here (DISPLAY and WAYLAND_DISPLAY are unset), so no browser was started."))
        #expect(advice.contains("claude-auth login --device"))
        #expect(advice.contains("claude-auth login --manual"))
        #expect(advice.contains("ssh -L \(redirectPort):localhost:\(redirectPort) THIS-HOST"))
        _ = try runCommand(which("curl")!, ["-sS", "-4", try server.signIn(url)], environment: sandbox.environment())
        #expect(child.wait(timeout: 30) == 0)
        #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/xdg-open-ran"))
        #expect(try token("browser").status == 0)
    }
}
