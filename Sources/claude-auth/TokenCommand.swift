import ArgumentParser
import ClaudeAuthClient

/// `claude-auth token`: the bare credential, for `apiKeyHelper`.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print the bare access token or API key of a profile.",
        discussion: """
            Claude Code: "apiKeyHelper": "claude-auth token --profile work --min-validity 360", with \
            CLAUDE_CODE_API_KEY_HELPER_TTL_MS=300000: the token outlives Claude Code's cache of it.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("Serve a token valid at least this long, refreshing first if need be.", valueName: "SECONDS"))
    var minValidity: Int?

    func validate() throws {
        if let minValidity, !(0...86400).contains(minValidity) { throw ValidationError("--min-validity takes 0 to 86400 seconds") }
    }

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            var request = options.request()
            request.minimumValidity = minValidity
            writeOut(try CredentialCommands.token(request, environment: options.environment))
        }
    }
}
