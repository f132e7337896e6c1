import ClaudeAuthAPI
import Foundation
import Testing

/// `add-profile` and `remove-profile` on a file a person wrote, with the real daemon reloading it.
@Suite("profiles from the command line")
struct ProfileCommandsTests {
    static let key = "sk-ant-api03-added-profile-0123456789"
    static let written = """
        # My configuration: hand-written, with comments that must survive.
        [profiles.api]   # the team's key
        kind = "api-key"
        key_env = "ANTHROPIC_API_KEY"  # from the unit's environment

        # a spare one
        [profiles.spare]
        kind = "api-key"
        headers = { "anthropic-beta" = "x" }

        """

    func fileText(_ sandbox: Sandbox) throws -> String {
        try String(contentsOfFile: sandbox.configPath, encoding: .utf8)
    }

    @Test("add-profile appends the table, leaves every other byte, and the daemon serves it at once; remove-profile restores the file")
    func addAndRemove() throws {
        let sandbox = try Sandbox()
        try sandbox.writeConfig(Self.written)
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": "sk-ant-api03-api", "WORK_KEY": Self.key])
        let added = try sandbox.client(["add-profile", "work", "--api-key", "--key-env", "WORK_KEY"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("next: give the daemon WORK_KEY"))
        let text = try fileText(sandbox)
        #expect(text.hasPrefix(Self.written))
        #expect(text.dropFirst(Self.written.count) == "\n[profiles.work]\nkind = \"api-key\"\nkey_env = \"WORK_KEY\"\n")
        #expect(try sandbox.mode(of: sandbox.configPath) == 0o600)
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == Self.key + "\n")

        // Refused, the file as it was: a name that exists, a name the daemon would not load.
        for arguments in [["add-profile", "work", "--api-key"], ["add-profile", "bad name", "--api-key"], ["add-profile", "-x", "--api-key", "--key-env", "A=B"]] {
            let refused = try sandbox.client(arguments)
            #expect(refused.status != 0, "\(arguments)")
            #expect(try fileText(sandbox) == text, "\(arguments)")
        }
        #expect(try sandbox.client(["add-profile", "work", "--api-key"]).stderr.contains("a profile named \"work\" exists"))
        #expect(try sandbox.client(["add-profile", "bad name", "--api-key"]).stderr.contains("left as it was"))

        let removed = try sandbox.client(["remove-profile", "work"])
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try fileText(sandbox) == Self.written)
        #expect(try sandbox.client(["token", "--profile", "work"]).status == 78)
        #expect(daemon.stop() == 0)
    }

    @Test("--default sets default_profile without moving a byte of the rest; a missing file is created 0600 in a 0700 directory; --forget deletes a stored key")
    func defaultAndMissingFile() throws {
        let sandbox = try Sandbox()
        try FileManager.default.removeItem(atPath: sandbox.root + "/config/claude-auth")
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["WORK_KEY": Self.key])
        #expect(try sandbox.client(["add-profile", "work", "--api-key", "--key-env", "WORK_KEY", "--default"]).status == 0)
        #expect(try fileText(sandbox) == "default_profile = \"work\"\n[profiles.work]\nkind = \"api-key\"\nkey_env = \"WORK_KEY\"\n")
        #expect(try sandbox.mode(of: sandbox.configPath) == 0o600)
        #expect(try sandbox.mode(of: sandbox.root + "/config/claude-auth") == 0o700)
        #expect(try sandbox.client(["token"]).stdout == Self.key + "\n")

        // A second default replaces the line; a stored-key profile, forgotten on removal.
        #expect(try sandbox.client(["add-profile", "mine", "--api-key", "--default"]).stdout.contains("next: `claude-auth set-key --profile mine`"))
        #expect(try fileText(sandbox).hasPrefix("default_profile = \"mine\"\n[profiles.work]\n"))
        #expect(try sandbox.client(["set-key", "--profile", "mine"], stdin: "sk-ant-api03-stored-mine").status == 0)
        let stored = try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/credentials")
        #expect(stored.count == 1)
        // The default profile cannot go while default_profile names it: the daemon's check refuses, the file stays.
        let refused = try sandbox.client(["remove-profile", "mine", "--forget"])
        #expect(refused.status == 78 && refused.stderr.contains("is not a configured profile"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/credentials").count == 1)
        try sandbox.writeConfig(try fileText(sandbox).replacingOccurrences(of: "default_profile = \"mine\"\n", with: ""))
        _ = try sandbox.curl(["-X", "POST", "http://localhost/v1/reload"])
        #expect(try sandbox.client(["remove-profile", "mine", "--forget"]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/credentials").isEmpty)
        #expect(daemon.stop() == 0)
    }
}
