import ArgumentParser
import ClaudeAuthClient

/// `claude-auth token`: the bare credential, for `apiKeyHelper`.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print the bare access token or API key of a profile.",
        discussion: "Claude Code: \"apiKeyHelper\": \"claude-auth token --profile api\"."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            writeOut(try CredentialCommands.token(options.request(), environment: options.environment))
        }
    }
}
