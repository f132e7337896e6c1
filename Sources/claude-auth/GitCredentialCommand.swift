import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

/// `claude-auth git-credential`: git's credential helper.
struct GitCredentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git-credential",
        abstract: "Answer git's credential helper protocol with a profile's token.",
        discussion: """
            git config --global credential.https://git.example.com.helper '!claude-auth git-credential --profile work'
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "What git asks: get, store or erase.")
    var operation: GitCredential.Operation

    func run() throws {
        let input = StandardStream.readAll(limit: 64 * 1024) ?? []
        let (output, diagnostic) = GitCredential.run(operation, input: input, client: { () throws(ClientError) in try options.client() }, profile: options.profile)
        if let diagnostic { StandardStream.error(diagnostic) }
        writeOut(output)
    }
}

extension GitCredential.Operation: ExpressibleByArgument {}
