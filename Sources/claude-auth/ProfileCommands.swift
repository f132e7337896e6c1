import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

/// `claude-auth add-profile`: a profile from the command line, checked and loaded without a restart.
struct AddProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-profile",
        abstract: "Add a profile to config.toml, check it as the daemon will, and reload the daemon.",
        discussion: """
            The table is appended; the rest of the file, comments included, stays as it was. A name that exists \
            or a result the daemon would refuse leaves the file untouched.
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

    @Flag(name: .customLong("default"), help: "Make it the default profile.")
    var makeDefault = false

    func validate() throws {
        guard apiKey else { throw ValidationError("say which kind: --api-key") }
        if keyEnv != nil && keyFile != nil { throw ValidationError("give at most one of --key-env and --key-file") }
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
            let table = ProfileEditor.apiKeyTable(name, keyEnv: keyEnv, keyFile: keyFile)
            try ProfileEditor(configPath: status.config.path, daemonExecutable: daemon).apply { text throws(ClientError) in
                ProfileEditor.adding(table, name: name, asDefault: makeDefault, to: text)
            }
            _ = try client.reload()
            writeOut("added profile \(name) to \(status.config.path)\(makeDefault ? " as the default" : "")\n")
            if let keyEnv {
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
        abstract: "Remove a profile from config.toml and reload the daemon; --forget also deletes its stored credential."
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
            let kept = profile.kind == .oauth || profile.source == "stored"
            if kept && !forget { writeOut("its stored credential is kept: `claude-auth remove-profile --forget` deletes it\n") }
        }
    }
}
