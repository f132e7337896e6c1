import ClaudeAuthAPI
import Foundation
import Testing

/// Bad configuration at start and on reload, through the real daemon.
@Suite("configuration, end to end")
struct ConfigurationTests {
    static let key = "sk-ant-api03-CONFIG-0007"
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
    }

    @Test(
        "a bad configuration at start: exit 78 with file, line and column",
        arguments: [
            ("[profiles.api\nkind = \"api-key\"\n", ":1:", "invalid TOML"),
            ("[profiles.api]\nkind = \"api-key\"\nkye_env = \"X\"\n", ":3:1:", "unknown key \"kye_env\" in [profiles.api]"),
            ("[profiles.api]\nkind = \"api-key\"\nkey_env = 42\n", ":3:1:", "profiles.api.key_env must be a string, not an integer"),
            ("default_profile = \"work\"\n[profiles.api]\nkind = \"api-key\"\n", ":1:1:", "default_profile \"work\" is not a configured profile"),
            ("[profiles.api]\nkey_env = \"X\"\n", ":1:1:", "profile \"api\" has no kind"),
            ("[profiles.api]\nkind = \"magic\"\n", ":2:1:", "unknown kind \"magic\""),
        ])
    func badConfigurationAtStart(config: String, location: String, message: String) throws {
        try sandbox.writeConfig(config)
        let daemon = try DaemonProcess(sandbox: sandbox, waitForReady: false)
        #expect(daemon.waitForExit() == 78)
        #expect(daemon.log().contains(sandbox.configPath + location))
        #expect(daemon.log().contains(message))

        let check = try runCommand(Binaries.daemon, ["--check-config"], environment: sandbox.environment())
        #expect(check.status == 78)
        #expect(check.stderr.hasPrefix("claude-authd: \(sandbox.configPath)\(location)"))
    }

    @Test("no configuration file: the daemon runs with no profiles")
    func noConfiguration() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        let status = try sandbox.client(["status"])
        #expect(status.stdout.contains("(no profiles configured in \(sandbox.configPath))"))
        daemon.stop()
    }

    @Test("a bad configuration on reload is refused and the one in force is kept")
    func badReloadRefused() throws {
        try sandbox.writeConfig("[profiles.default]\nkind = \"api-key\"\nkey_env = \"ANTHROPIC_API_KEY\"\n")
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        try sandbox.writeConfig("[profiles.default]\nkind = \"api-key\"\nkey_env = [\n")

        let reload = try sandbox.curl(["-X", "POST", "-w", "\n%{http_code}", "http://localhost/v1/reload"])
        #expect(reload.stdout.hasSuffix("\n400"))
        #expect(reload.stdout.contains("\"code\":\"invalid_config\""))
        #expect(reload.stdout.contains(sandbox.configPath + ":"))
        #expect(try sandbox.client(["token"]).stdout == Self.key + "\n")

        daemon.signal(SIGHUP)
        #expect(daemon.notify.wait(for: "READY=1") != nil)
        #expect(try sandbox.client(["token"]).stdout == Self.key + "\n")
        let status = try sandbox.client(["status", "--json"])
        let decoded = try JSONDecoder.api().decode(StatusResponse.self, from: Data(status.stdout.utf8))
        #expect(decoded.config.lastReloadError?.contains(sandbox.configPath) == true)
        #expect(daemon.log().contains("configuration refused, keeping the one in force"))
        #expect(daemon.process.isRunning)
        daemon.stop()
    }

    @Test("SIGHUP reloads a good configuration, telling the manager RELOADING=1 then READY=1")
    func sighupReload() throws {
        try sandbox.writeConfig("[profiles.default]\nkind = \"api-key\"\nkey_env = \"ANTHROPIC_API_KEY\"\n")
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        #expect(try sandbox.client(["token", "--profile", "second"]).status == 78)

        try sandbox.writeConfig(
            "[profiles.default]\nkind = \"api-key\"\nkey_env = \"ANTHROPIC_API_KEY\"\n[profiles.second]\nkind = \"api-key\"\nkey_env = \"ANTHROPIC_API_KEY\"\n")
        daemon.signal(SIGHUP)
        let messages = try #require(daemon.notify.wait(for: "READY=1"))
        #expect(messages.first?.contains("RELOADING=1") == true)
        #expect(messages.joined().contains("STATUS=serving 2 profiles"))
        #expect(try sandbox.client(["token", "--profile", "second"]).stdout == Self.key + "\n")
        daemon.stop()
    }
}
