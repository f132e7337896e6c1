import Foundation
import Testing

/// A recognisable key goes through every scenario; it must show only where a user asked for it.
@Suite("no secret in logs, status or errors")
struct SecretLeakTests {
    static let canary = "sk-ant-api03-CANARY-d41d8cd98f00b204e980"

    @Test("the key never reaches the daemon's log, status, doctor or any error text")
    func canary() throws {
        let sandbox = try Sandbox()
        let keyFile = try sandbox.writeFile("key", Self.canary)
        try sandbox.writeConfig(
            """
            default_profile = "env"
            [profiles.env]
            kind = "api-key"
            key_env = "ANTHROPIC_API_KEY"
            [profiles.file]
            kind = "api-key"
            key_file = "\(keyFile)"
            [profiles.stored]
            kind = "api-key"
            """)
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.canary])
        var texts: [String] = []

        // Where the key is asked for, it is served...
        #expect(try sandbox.client(["token", "--profile", "env"]).stdout == Self.canary + "\n")
        #expect(try sandbox.client(["header", "--profile", "file"]).stdout.contains(Self.canary))
        // ...and everywhere else it is absent.
        let stored = try sandbox.client(["set-key", "--profile", "stored"], stdin: Self.canary)
        texts += [stored.stdout, stored.stderr]
        let refused = try sandbox.client(["set-key", "--profile", "env"], stdin: Self.canary)
        texts += [refused.stdout, refused.stderr]
        for arguments in [["status"], ["status", "--json"], ["doctor"], ["token", "--profile", "ghost"]] {
            let result = try sandbox.client(arguments, environment: ["ANTHROPIC_API_KEY": Self.canary])
            texts += [result.stdout, result.stderr]
        }
        chmod(keyFile, 0o644)
        try sandbox.writeConfig("[profiles.file]\nkind = \"api-key\"\nkey_file = \"\(keyFile)\"\n")
        texts.append(try sandbox.curl(["-X", "POST", "http://localhost/v1/reload"]).stdout)
        let lax = try sandbox.client(["token", "--profile", "file"])
        #expect(lax.status == 77)
        texts += [lax.stdout, lax.stderr]
        try sandbox.writeConfig("[profiles.file]\nkind = \"api-key\"\nkey_file = \(Self.canary)\n")
        texts.append(try sandbox.curl(["-X", "POST", "http://localhost/v1/reload"]).stdout)
        let check = try runCommand(Binaries.daemon, ["--check-config"], environment: sandbox.environment())
        texts += [check.stdout, check.stderr]

        #expect(daemon.stop() == 0)
        texts.append(daemon.log())
        #expect(daemon.log().contains("stored API key"))
        for text in texts {
            #expect(!text.contains(Self.canary))
            #expect(!text.contains("CANARY"))
        }
    }
}
