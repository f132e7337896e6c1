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

    @Test("add-profile --oauth takes an issuer and a client id, and the login works; a bad URL or an unreachable issuer leaves the file as it was; remove-profile asks on a terminal")
    func oauthProfile() throws {
        let sandbox = try Sandbox()
        try sandbox.writeConfig(Self.written)
        let redirectPort = try freePort()
        let server = try GlewlwydServer(redirectPorts: [redirectPort])
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": "sk-ant-api03-api"])
        let closed = try freePort()
        for (arguments, message) in [
            (["--issuer", "ftp://idp.example.com", "--client-id", "c"], "an absolute https URL"),
            (["--issuer", "http://127.0.0.1:\(closed)", "--client-id", "c"], "cannot read the metadata of the issuer http://127.0.0.1:\(closed)"),
            (["--issuer", server.issuer], "--oauth needs --issuer URL and --client-id ID"),
            (["--issuer", server.issuer, "--client-id", "c", "--key-env", "K"], "--key-env and --key-file are for --api-key"),
        ] {
            let refused = try sandbox.client(["add-profile", "work", "--oauth"] + arguments)
            #expect(refused.status != 0, "\(arguments)")
            #expect(refused.stderr.contains(message), "\(refused.stderr)")
            #expect(try fileText(sandbox) == Self.written, "\(arguments)")
        }

        let add = [
            "add-profile", "work", "--oauth", "--issuer", server.issuer, "--client-id", server.clientID, "--scope", "openid", "--scope",
            "offline_access", "--redirect-port", String(redirectPort),
        ]
        let added = try sandbox.client(add)
        #expect(added.status == 0, "\(added.stderr)")
        let table = """

            [profiles.work]
            kind = "oauth"
            issuer = "\(server.issuer)"
            client_id = "\(server.clientID)"
            scopes = ["openid", "offline_access"]
            redirect_port = \(redirectPort)

            """
        #expect(try fileText(sandbox) == Self.written + table)
        #expect(added.stdout.contains("  token endpoint: \(server.tokenURL)\n"))
        #expect(added.stdout.contains("next: `claude-auth login --profile work` (or `--device`"))
        let ticket = try sandbox.startLogin("work")
        _ = try runCommand(which("curl")!, ["-sS", "-4", try server.signIn(ticket.authorizeURL)], environment: sandbox.environment())
        #expect(try sandbox.loginStatus(ticket.loginID) == LoginStatusResponse(state: .succeeded))
        let token = try sandbox.client(["token", "--profile", "work"]).stdout
        #expect(token.hasPrefix("ey"))

        // Without a terminal nothing is asked and the login is kept: the same profile added again finds it.
        let kept = try sandbox.client(["remove-profile", "work"], stdin: "y\n")
        #expect(kept.status == 0 && kept.stdout.contains("its stored credential is kept"), "\(kept.stderr)")
        #expect(try fileText(sandbox) == Self.written)
        #expect(try sandbox.client(add).status == 0)
        #expect(try sandbox.client(["token", "--profile", "work"]).stdout == token)
        // On a terminal it asks; "y" logs out and deletes the stored tokens.
        let asked = try runCommand(
            which("script")!, ["-qec", "\(Binaries.client) remove-profile work", "/dev/null"], environment: sandbox.environment(), stdin: "y\n")
        #expect(asked.status == 0, "\(asked.stdout)")
        #expect(asked.stdout.contains("Profile work holds a stored login. Forget it too? [y/N]"))
        #expect(!asked.stdout.contains("is kept"))
        #expect(try fileText(sandbox) == Self.written)
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/credentials").isEmpty)
        #expect(daemon.stop() == 0)
    }
}
