import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

#if canImport(Glibc)
import Glibc
#endif

/// `claude-auth add-profile`: a profile from the command line, checked and loaded without a restart.
struct AddProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-profile",
        abstract: "Add a profile to config.toml, check it as the daemon will, and reload the daemon.",
        discussion: """
            The table is appended; the rest of the file, comments included, stays as it was. A name that exists, \
            an issuer whose metadata cannot be read, or a result the daemon would refuse leaves the file untouched. \
            An oauth profile takes its endpoints from the issuer's metadata (OpenID Connect Discovery or RFC 8414).
            """
    )

    @Option(help: "The daemon's socket (default: $CLAUDE_AUTH_SOCKET, else $XDG_RUNTIME_DIR/claude-auth/socket).")
    var socket: String?

    @Argument(help: "The new profile's name.")
    var name: String

    @Flag(help: "An API-key profile (stored with set-key unless --key-env or --key-file).")
    var apiKey = false

    @Option(help: ArgumentHelp("Take the key from this variable of the daemon's environment.", valueName: "VAR"))
    var keyEnv: String?

    @Option(help: ArgumentHelp("Take the key from this file (0600).", valueName: "PATH"))
    var keyFile: String?

    @Flag(help: "An oauth profile (then `claude-auth login`): give --issuer and --client-id.")
    var oauth = false

    @Option(help: ArgumentHelp("The authorization server's issuer URL, whose metadata names the endpoints.", valueName: "URL"))
    var issuer: String?

    @Option(help: ArgumentHelp("The OAuth client identifier registered with the issuer.", valueName: "ID"))
    var clientID: String?

    @Option(help: ArgumentHelp("A scope to request; repeat for several.", valueName: "S"))
    var scope: [String] = []

    @Option(help: ArgumentHelp("The loopback port of the browser login's redirect (default 8089; 0: any free port).", valueName: "N"))
    var redirectPort: Int?

    @Flag(name: .customLong("default"), help: "Make it the default profile.")
    var makeDefault = false

    func validate() throws {
        guard apiKey != oauth else { throw ValidationError("say which kind: --api-key or --oauth") }
        if apiKey {
            if keyEnv != nil && keyFile != nil { throw ValidationError("give at most one of --key-env and --key-file") }
            if issuer != nil || clientID != nil || !scope.isEmpty || redirectPort != nil {
                throw ValidationError("--issuer, --client-id, --scope and --redirect-port are for --oauth")
            }
        } else {
            guard issuer != nil, clientID?.isEmpty == false else { throw ValidationError("--oauth needs --issuer URL and --client-id ID") }
            if keyEnv != nil || keyFile != nil { throw ValidationError("--key-env and --key-file are for --api-key") }
        }
    }

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let options = GlobalOptions(socket: socket, profile: nil)
            let client = try options.client()
            let status = try client.status().status
            if status.profiles.contains(where: { $0.name == name }) {
                throw ClientError(exitCode: 78, message: "a profile named \"\(name)\" exists in \(status.config.path): remove-profile it first, or choose another name")
            }
            guard let daemon = options.daemonExecutable() else {
                throw ClientError(exitCode: 69, message: "claude-authd is not on PATH: it checks the result before it replaces \(status.config.path)")
            }
            // The issuer is asked before anything is written: one that cannot be used leaves the file as it was.
            let found = try issuer.map { url throws(ClientError) in try client.issuer(url) }
            let table =
                if let issuer, let clientID {
                    ProfileEditor.oauthTable(name, issuer: issuer, clientID: clientID, scopes: scope, redirectPort: redirectPort)
                } else {
                    ProfileEditor.apiKeyTable(name, keyEnv: keyEnv, keyFile: keyFile)
                }
            try ProfileEditor(configPath: status.config.path, daemonExecutable: daemon).apply { text throws(ClientError) in
                ProfileEditor.adding(table, name: name, asDefault: makeDefault, to: text)
            }
            _ = try client.reload()
            writeOut("added profile \(name) to \(status.config.path)\(makeDefault ? " as the default" : "")\n")
            if let found {
                for (what, url) in [
                    ("authorization", found.authorizeURL), ("token", found.tokenURL), ("revocation", found.revocationURL),
                    ("device authorization", found.deviceAuthorizationURL),
                ] {
                    writeOut("  \(what) endpoint: \(url ?? "none")\n")
                }
                let device = found.deviceAuthorizationURL == nil ? "" : " (or `--device` where no browser can reach this machine)"
                writeOut("next: `claude-auth login --profile \(name)`\(device)\n")
            } else if let keyEnv {
                writeOut("next: give the daemon \(keyEnv) (`systemctl --user set-environment \(keyEnv)=…` and restart claude-authd), then `claude-auth token --profile \(name)`\n")
            } else if let keyFile {
                writeOut("next: put the key in \(keyFile) (mode 0600), then `claude-auth token --profile \(name)`\n")
            } else {
                writeOut("next: `claude-auth set-key --profile \(name)`\n")
            }
        }
    }
}

/// `claude-auth remove-profile`: takes a profile's table out of config.toml and reloads the daemon.
struct RemoveProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove-profile",
        abstract: "Remove a profile from config.toml and reload the daemon; --forget also deletes its stored credential.",
        discussion: "On a terminal, a profile holding a stored credential asks whether to forget it; elsewhere it is kept unless --forget."
    )

    @Option(help: "The daemon's socket (default: $CLAUDE_AUTH_SOCKET, else $XDG_RUNTIME_DIR/claude-auth/socket).")
    var socket: String?

    @Argument(help: "The profile's name.")
    var name: String

    @Flag(help: "Also forget its stored credential: log an oauth profile out (revoking its tokens), delete a stored key.")
    var forget = false

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let options = GlobalOptions(socket: socket, profile: nil)
            let client = try options.client()
            let status = try client.status().status
            guard let profile = status.profiles.first(where: { $0.name == name }) else {
                throw ClientError(exitCode: 78, message: "no profile named \"\(name)\" in \(status.config.path)")
            }
            guard let daemon = options.daemonExecutable() else {
                throw ClientError(exitCode: 69, message: "claude-authd is not on PATH: it checks the result before it replaces \(status.config.path)")
            }
            let holds = profile.fingerprint != nil && (profile.kind == .oauth || profile.source == "stored")
            let forget = forget || (holds && Self.confirm("Profile \(name) holds a stored \(profile.kind == .oauth ? "login" : "key"). Forget it too? [y/N] "))
            // The credential is forgotten once the result is known to load, while the profile is still configured.
            try ProfileEditor(configPath: status.config.path, daemonExecutable: daemon).apply({ text throws(ClientError) in
                guard let removed = ProfileEditor.removing(name, from: text) else {
                    throw ClientError(exitCode: 78, message: "\(status.config.path) has no [profiles.\(name)] table of its own (it may come from the environment)")
                }
                return removed
            }, beforeReplacing: { () throws(ClientError) in
                guard forget else { return }
                switch profile.kind {
                case .oauth: _ = try client.logout(profile: name)
                case .apiKey where profile.source == "stored": try client.forgetKey(profile: name)
                case .apiKey: break
                }
            })
            _ = try client.reload()
            writeOut("removed profile \(name) from \(status.config.path)\n")
            if holds && !forget {
                writeOut("its stored credential is kept: a profile added again with the same settings uses it\n")
            }
        }
    }

    /// Asks on the terminal; false without one, so scripts keep what they did not say to forget.
    private static func confirm(_ question: String) -> Bool {
        guard isatty(STDIN_FILENO) == 1 else { return false }
        StandardStream.error(question)
        let answer = readLine(strippingNewline: true)?.lowercased() ?? ""
        return answer == "y" || answer == "yes"
    }
}
