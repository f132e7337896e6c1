import ArgumentParser
import ClaudeAuthClient

/// `claude-auth exec`: runs a command that reaches the API through the daemon's proxy, holding no credential.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command whose SDK calls go through the daemon's proxy, with no credential in its environment.",
        discussion: """
            Sets ANTHROPIC_BASE_URL to the proxy's TCP listener and ANTHROPIC_API_KEY to the placeholder \
            claude-auth:PROFILE, removes ANTHROPIC_AUTH_TOKEN, and replaces itself with the command: its exit \
            status and signals are the command's own. Needs [proxy] listen in the daemon's configuration.
            """
    )

    // Declared here, not through GlobalOptions: the argument parser does not see an option group's options before
    // an argument that captures for passthrough.
    @Option(help: "The daemon's socket (default: $CLAUDE_AUTH_SOCKET, else $XDG_RUNTIME_DIR/claude-auth/socket).")
    var socket: String?

    @Option(help: "The profile the command's requests use (default: the proxy's profile).")
    var profile: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        if arguments.isEmpty { throw ValidationError("name the command to run: claude-auth exec [--profile P] -- CMD [ARG...]") }
    }

    /// The command without the `--` that may separate it.
    private var arguments: [String] {
        command.first == "--" ? Array(command.dropFirst()) : command
    }

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let options = GlobalOptions(socket: socket, profile: profile)
            let target = try ProxyEnvironment.target(in: try options.client().status().status, profile: profile)
            throw Subprocess.exec(arguments, environment: ProxyEnvironment.child(of: options.environment, listen: target.listen, profile: target.profile))
        }
    }
}
