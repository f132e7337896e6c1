import ClaudeAuthAPI
import Foundation
import Testing

/// What a user does with API-key profiles, through the real daemon, client and curl.
@Suite("API-key profiles, end to end")
struct APIKeyProfileTests {
    static let envKey = "sk-ant-api03-ENVKEY-0001"
    static let fileKey = "sk-ant-api03-FILEKEY-0002"
    static let storedKey = "sk-ant-api03-STOREDKEY-0003"

    let sandbox: Sandbox
    let keyFile: String

    init() throws {
        sandbox = try Sandbox()
        keyFile = try sandbox.writeFile("api.key", Self.fileKey + "\n")
        try sandbox.writeConfig(
            """
            default_profile = "api"

            [profiles.api]
            kind = "api-key"
            key_env = "ANTHROPIC_API_KEY"

            [profiles.file]
            kind = "api-key"
            key_file = "\(keyFile)"

            [profiles.stored]
            kind = "api-key"
            headers = { "anthropic-beta" = "tools-2024-04-04" }
            """)
    }

    func startDaemon() throws -> DaemonProcess {
        try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.envKey])
    }

    @Test("header and token for a key_env profile, from the client and from curl")
    func keyFromEnvironment() throws {
        let daemon = try startDaemon()
        let expected = "x-api-key: \(Self.envKey)\nanthropic-version: 2023-06-01\n"

        let header = try sandbox.client(["header", "--profile", "api"])
        #expect(header.status == 0)
        #expect(header.stdout == expected)

        let token = try sandbox.client(["token", "--profile", "api"])
        #expect(token.status == 0)
        #expect(token.stdout == Self.envKey + "\n")

        let curl = try sandbox.curl(["http://localhost/v1/header?profile=api"])
        #expect(curl.stdout == expected)
        #expect(daemon.stop() == 0)
    }

    @Test("a key_file profile serves the file's key, trimmed")
    func keyFromFile() throws {
        let daemon = try startDaemon()
        let token = try sandbox.client(["token", "--profile", "file"])
        #expect(token.stdout == Self.fileKey + "\n")
        let json = try sandbox.curl(["http://localhost/v1/headers?profile=file"])
        let headers = try JSONDecoder.api().decode(HeadersResponse.self, from: Data(json.stdout.utf8))
        #expect(headers.headers == ["x-api-key": Self.fileKey, "anthropic-version": "2023-06-01"])
        #expect(headers.kind == .apiKey)
        #expect(headers.fingerprint.count == 12)
        #expect(!json.stdout.contains("refresh"))
        daemon.stop()
    }

    @Test("set-key stores a key from stdin, privately, and it survives a restart")
    func setKey() throws {
        var daemon = try startDaemon()
        let before = try sandbox.client(["header", "--profile", "stored"])
        #expect(before.status == 77)
        #expect(before.stderr.contains("claude-auth set-key --profile stored"))

        let stored = try sandbox.client(["set-key", "--profile", "stored"], stdin: Self.storedKey + "\n")
        #expect(stored.status == 0)
        #expect(!stored.stderr.contains(Self.storedKey))

        let header = try sandbox.client(["header", "--profile", "stored"])
        #expect(header.stdout == "x-api-key: \(Self.storedKey)\nanthropic-version: 2023-06-01\nanthropic-beta: tools-2024-04-04\n")

        let directory = sandbox.stateDirectory + "/credentials"
        #expect(try sandbox.mode(of: directory) == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(files.count == 1)
        #expect(files[0].count == 64 + ".json".count)
        #expect(try sandbox.mode(of: directory + "/" + files[0]) == 0o600)

        #expect(daemon.stop() == 0)
        daemon = try startDaemon()
        #expect(try sandbox.client(["token", "--profile", "stored"]).stdout == Self.storedKey + "\n")
        daemon.stop()
    }

    @Test("set-key refuses a profile whose key comes from the environment or a file")
    func setKeyRefusedForConfiguredSource() throws {
        let daemon = try startDaemon()
        let result = try sandbox.client(["set-key", "--profile", "api"], stdin: "sk-ant-api03-OTHER")
        #expect(result.status == 64)
        #expect(result.stderr.contains("env:ANTHROPIC_API_KEY"))
        #expect(try sandbox.client(["token", "--profile", "api"]).stdout == Self.envKey + "\n")
        daemon.stop()
    }

    @Test("header formats: curl config and JSON")
    func headerFormats() throws {
        let daemon = try startDaemon()
        let curl = try sandbox.client(["header", "--profile", "api", "--format", "curl"])
        #expect(curl.stdout == "header = \"x-api-key: \(Self.envKey)\"\nheader = \"anthropic-version: 2023-06-01\"\n")
        let json = try sandbox.client(["header", "--profile", "api", "--format", "json"])
        let object = try JSONDecoder().decode([String: String].self, from: Data(json.stdout.utf8))
        #expect(object == ["x-api-key": Self.envKey, "anthropic-version": "2023-06-01"])
        // The same through the argument parser (--json) as through the fast path (--format json).
        #expect(try sandbox.client(["--json", "header", "--profile", "api"]).stdout == json.stdout)
        #expect(try sandbox.client(["--profile", "api", "header"]).stdout == "x-api-key: \(Self.envKey)\nanthropic-version: 2023-06-01\n")
        daemon.stop()
    }

    @Test("the seed's order: ANTHROPIC_API_KEY, then ANTHROPIC_AUTH_TOKEN, then the daemon's default profile")
    func resolutionOrder() throws {
        let daemon = try startDaemon()
        let both = try sandbox.client(
            ["header"], environment: ["ANTHROPIC_API_KEY": "sk-client-key", "ANTHROPIC_AUTH_TOKEN": "gateway-token"])
        #expect(both.stdout == "x-api-key: sk-client-key\nanthropic-version: 2023-06-01\n")

        let token = try sandbox.client(["header"], environment: ["ANTHROPIC_AUTH_TOKEN": "gateway-token"])
        #expect(token.stdout == "Authorization: Bearer gateway-token\n")

        let daemonDefault = try sandbox.client(["header"])
        #expect(daemonDefault.stdout == "x-api-key: \(Self.envKey)\nanthropic-version: 2023-06-01\n")

        let noEnv = try sandbox.client(["header", "--no-env"], environment: ["ANTHROPIC_API_KEY": "sk-client-key"])
        #expect(noEnv.stdout == daemonDefault.stdout)

        let named = try sandbox.client(["token", "--profile", "file"], environment: ["ANTHROPIC_API_KEY": "sk-client-key"])
        #expect(named.stdout == Self.fileKey + "\n")
        daemon.stop()
    }

    @Test("no environment and no default profile: exit 77, missing_api_key, and what to do")
    func missingAPIKey() throws {
        try sandbox.writeConfig("")
        let daemon = try DaemonProcess(sandbox: sandbox)
        let result = try sandbox.client(["header"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("ANTHROPIC_API_KEY"))
        #expect(result.stderr.contains("set-key"))
        let curl = try sandbox.curl(["-w", "%{http_code}", "http://localhost/v1/header"])
        #expect(curl.stdout.contains("\"code\":\"missing_api_key\""))
        #expect(curl.stdout.hasSuffix("404"))
        daemon.stop()
    }

    @Test("an unknown profile is exit 78 naming the configured ones; a stopped daemon is exit 69")
    func unknownProfileAndUnreachable() throws {
        let daemon = try startDaemon()
        let unknown = try sandbox.client(["token", "--profile", "nope"])
        #expect(unknown.status == 78)
        #expect(unknown.stderr.contains("configured: api, file, stored"))
        #expect(daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath))

        let unreachable = try sandbox.client(["token", "--profile", "api"])
        #expect(unreachable.status == 69)
        #expect(unreachable.stderr.contains("systemctl --user start claude-authd.socket"))
    }

    @Test("a group-readable key file is refused with a clear message, and serves nothing")
    func laxKeyFileRefused() throws {
        chmod(keyFile, 0o640)
        let daemon = try startDaemon()
        let result = try sandbox.client(["token", "--profile", "file"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("accessible by group or others"))
        #expect(result.stderr.contains("chmod go-rwx \(keyFile)"))
        #expect(result.stdout.isEmpty)
        #expect(!result.stderr.contains(Self.fileKey))
        daemon.stop()
    }

    @Test("a key_env variable missing from the daemon's environment is a clear error")
    func missingKeyEnvironment() throws {
        let daemon = try DaemonProcess(sandbox: sandbox)
        let result = try sandbox.client(["token", "--profile", "api"])
        #expect(result.status == 77)
        #expect(result.stderr.contains("$ANTHROPIC_API_KEY, which is not set in claude-authd's environment"))
        let status = try sandbox.client(["status", "--json"])
        let decoded = try JSONDecoder.api().decode(StatusResponse.self, from: Data(status.stdout.utf8))
        #expect(decoded.profiles.first { $0.name == "api" }?.state == .missingKey)
        daemon.stop()
    }
}
