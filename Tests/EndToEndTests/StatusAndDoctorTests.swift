import ClaudeAuthAPI
import Foundation
import Testing

/// `status` and `doctor`, as a user reads them.
@Suite("status and doctor")
struct StatusAndDoctorTests {
    static let key = "sk-ant-api03-STATUSKEY-0004"
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
        try sandbox.writeConfig(
            """
            default_profile = "api"
            [profiles.api]
            kind = "api-key"
            key_env = "ANTHROPIC_API_KEY"
            [profiles.spare]
            kind = "api-key"
            """)
    }

    @Test("status lists kind, state and fingerprint in a table and as JSON, never the key")
    func status() throws {
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        let fingerprint = String(sha256Hex(Self.key).prefix(12))

        let table = try sandbox.client(["status"])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines[0] == ["PROFILE", "KIND", "STATE", "FINGERPRINT", "SOURCE"])
        #expect(lines[1] == ["*api", "api-key", "ready", Substring(fingerprint), "env:ANTHROPIC_API_KEY"])
        #expect(lines[2] == ["spare", "api-key", "missing_key", "-", "stored"])
        #expect(!table.stdout.contains(Self.key))

        let json = try sandbox.client(["status", "--json"])
        #expect(!json.stdout.contains(Self.key))
        let status = try JSONDecoder.api().decode(StatusResponse.self, from: Data(json.stdout.utf8))
        #expect(status.defaultProfile == "api")
        #expect(status.profiles.map(\.name) == ["api", "spare"])
        #expect(status.profiles[0].fingerprint == fingerprint)
        #expect(status.config.path == sandbox.configPath)
        daemon.stop()
    }

    @Test("doctor reports a healthy set-up, and the environment variables that shadow the default profile")
    func doctorHealthy() throws {
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        let result = try sandbox.client(["doctor"], environment: ["ANTHROPIC_API_KEY": "sk-shadowing"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("ok   claude-authd \(claudeAuthVersion) answers"))
        #expect(result.stdout.contains("ok   socket \(sandbox.socketPath) is private"))
        #expect(result.stdout.contains("ok   configuration:"))
        #expect(result.stdout.contains("WARN ANTHROPIC_API_KEY is set"))
        #expect(result.stdout.contains("WARN claude-authd.socket is not installed as a user unit: run `make install`"))
        #expect(result.stdout.contains("WARN profile \"spare\" is missing_key"))
        #expect(!result.stdout.contains("sk-shadowing"))
        #expect(!result.stdout.contains(Self.key))
        daemon.stop()
    }

    @Test("doctor finds an invalid configuration on disk and a daemon that is not running")
    func doctorProblems() throws {
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        try sandbox.writeConfig("[profiles.api]\nkind = \"api-key\"\nkey_env = 42\n")
        let badConfig = try sandbox.client(["doctor"])
        #expect(badConfig.status == 78)
        #expect(badConfig.stdout.contains("FAIL configuration: \(sandbox.configPath):3:1: profiles.api.key_env must be a string, not an integer"))

        daemon.stop()
        let stopped = try sandbox.client(["doctor"])
        #expect(stopped.status == 69)
        #expect(stopped.stdout.contains("FAIL cannot reach claude-authd"))
    }
}

/// SHA-256 in hex, through the system's sha256sum, independent of the code under test.
func sha256Hex(_ text: String) -> String {
    let result = try! runCommand(which("sha256sum")!, [], environment: [:], stdin: text)
    return String(result.stdout.prefix(64))
}
