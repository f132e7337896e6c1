import ClaudeAuthAPI
import Foundation
import Testing

/// The desktop's sign-in prompt, against an independent notification server on a private session bus and
/// the real glewlwyd behind the login its action starts.
@Suite("desktop sign-in prompts", .serialized)
struct SignInPromptTests {
    private static let ciKey = "sk-ant-api03-daemon-environment-secret"

    /// A stand-in for `xdg-open` on the daemon's PATH: records the URL and its environment, then plays the
    /// user in the browser against glewlwyd and follows the redirect back to the daemon.
    private func stubBrowser(in sandbox: Sandbox) throws -> (bin: String, urls: String, environment: String) {
        let bin = sandbox.root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let urls = sandbox.root + "/browser-urls", environment = sandbox.root + "/browser-environment"
        try """
        #!/bin/sh
        printf '%s\\n' "$1" >> \(urls)
        env > \(environment)
        landing=$(\(GlewlwydServer.scripts)/browser "$1") && curl -sS -4 --max-time 10 -o /dev/null "$landing"

        """.write(toFile: bin + "/xdg-open", atomically: true, encoding: .utf8)
        chmod(bin + "/xdg-open", 0o755)
        return (bin, urls, environment)
    }

    private func daemonEnvironment(_ sandbox: Sandbox, _ notifications: NotificationServer, bin: String) -> [String: String] {
        [
            "DBUS_SESSION_BUS_ADDRESS": notifications.bus.address,
            "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "CI_KEY": Self.ciKey,
        ]
    }

    private func state(of profile: String, _ sandbox: Sandbox) throws -> ProfileState? {
        let answer = try sandbox.curl(["http://localhost/v1/status"]).stdout
        return try JSONDecoder.api().decode(StatusResponse.self, from: Data(answer.utf8)).profiles.first { $0.name == profile }?.state
    }

    @Test("one prompt for a profile without tokens; Sign in opens the browser, the login completes, the prompt is withdrawn; a refused refresh prompts again, a dismissed prompt is not repeated")
    func promptAndSignIn() throws {
        let sandbox = try Sandbox()
        let notifications = try NotificationServer(sandbox: sandbox)
        let port = try freePort()
        let server = try GlewlwydServer(redirectPorts: [port])
        let browser = try stubBrowser(in: sandbox)
        let profiles = server.profile("work", redirectPort: port) + """
            [profiles.ci]
            kind = "api-key"
            key_env = "CI_KEY"

            """
        try sandbox.writeConfig(profiles)
        let daemon = try DaemonProcess(sandbox: sandbox, environment: daemonEnvironment(sandbox, notifications, bin: browser.bin))

        // At start: one notification, with a Sign in action, that waits for the user.
        #expect(waitUntil(10) { notifications.notifications().count == 1 }, "\(daemon.log())")
        let prompt = try #require(notifications.notifications().first)
        #expect(prompt["app_name"] as? String == "claude-auth")
        #expect(prompt["summary"] as? String == "Sign in to work")
        #expect((prompt["body"] as? String)?.contains("needs a new login: not logged in") == true)
        #expect(prompt["actions"] as? [String] == ["default", "Sign in"])
        #expect(prompt["expire_timeout"] as? Int == 0)
        #expect(try state(of: "work", sandbox) == .loginRequired)

        // Sign in: the daemon starts the PKCE login and hands its URL to the browser, which completes it.
        let id = try #require(prompt["id"] as? Int)
        try notifications.invokeAction(id: id, key: "default")
        #expect(waitUntil(30) { (try? state(of: "work", sandbox)) == .ready }, "\(daemon.log())")
        let opened = try String(contentsOfFile: browser.urls, encoding: .utf8).split(separator: "\n")
        #expect(opened.count == 1)
        #expect(opened.first?.hasPrefix(server.authorizeURL + "?") == true)
        #expect(queryParameters(String(opened.first ?? ""))["code_challenge_method"] == "S256")
        let token = try sandbox.client(["token", "--profile", "work"])
        #expect(token.status == 0)
        #expect(try server.accepts(token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        // The browser got the desktop's variables, none of the daemon's secrets.
        let environment = try String(contentsOfFile: browser.environment, encoding: .utf8)
        #expect(environment.contains("DBUS_SESSION_BUS_ADDRESS="))
        #expect(!environment.contains(Self.ciKey))
        #expect(!environment.contains("CI_KEY"))
        // Logged in: the prompt is withdrawn.
        #expect(waitUntil(10) { notifications.calls().contains { $0["method"] as? String == "CloseNotification" && $0["id"] as? Int == id } })

        // The server refuses the refresh token: the profile needs a login again, and says so once.
        try server.revokeRefreshTokens()
        #expect(try sandbox.client(["refresh", "--profile", "work"]).status == 77)
        #expect(waitUntil(10) { notifications.notifications().count == 2 }, "\(daemon.log())")
        let second = try #require(notifications.notifications().last)
        #expect(second["summary"] as? String == "Sign in to work")
        #expect((second["body"] as? String)?.contains("refused the refresh token") == true)

        // Dismissed, and asked again in the same state: no new prompt. A profile added by a reload is
        // prompted after all of that, so when its prompt is in, any repeat would be too.
        try notifications.dismiss(id: try #require(second["id"] as? Int))
        #expect(try sandbox.client(["refresh", "--profile", "work"]).status == 77)
        #expect(try sandbox.client(["token", "--profile", "work"]).status == 77)
        try sandbox.writeConfig(profiles + server.profile("later", scopes: ["openid"], redirectPort: 0))
        #expect(try sandbox.curl(["-X", "POST", "-f", "http://localhost/v1/reload"]).status == 0)
        #expect(waitUntil(10) { notifications.notifications().count == 3 })
        #expect(notifications.summaries() == ["Sign in to work", "Sign in to work", "Sign in to later"])
        #expect(daemon.stop() == 0)
    }

    @Test("sign_in_prompts = false sends none")
    func switchedOff() throws {
        let sandbox = try Sandbox()
        let notifications = try NotificationServer(sandbox: sandbox)
        let browser = try stubBrowser(in: sandbox)
        let quiet = "[desktop]\nsign_in_prompts = false\n\n" + oauthProfile("work", clientID: "c", tokenURL: "http://127.0.0.1:9/token", redirectPort: 0)
        try sandbox.writeConfig(quiet)
        let daemon = try DaemonProcess(sandbox: sandbox, environment: daemonEnvironment(sandbox, notifications, bin: browser.bin))
        #expect(try state(of: "work", sandbox) == .loginRequired)
        // Turned back on with a second profile: only that one is prompted, so none was sent for the first.
        try sandbox.writeConfig(
            quiet.replacingOccurrences(of: "false", with: "true")
                + oauthProfile("other", clientID: "d", tokenURL: "http://127.0.0.1:9/token", redirectPort: 0))
        #expect(try sandbox.curl(["-X", "POST", "-f", "http://localhost/v1/reload"]).status == 0)
        #expect(waitUntil(10) { !notifications.notifications().isEmpty })
        #expect(notifications.summaries() == ["Sign in to other"])
        #expect(daemon.stop() == 0)
    }
}
