import ArgumentParser
import ClaudeAuthClient

/// `claude-auth header`: the auth headers, ready for curl.
struct HeaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "header",
        abstract: "Print the auth headers of a profile.",
        discussion: "Use with `claude-auth header | curl -H @- URL`, or `curl -K <(claude-auth header --format curl) URL`."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "http: `Name: value` lines; curl: a curl config (-K); json: an object.")
    var format: HeaderFormat = .http

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            writeOut(try CredentialCommands.header(options.request(format: options.json ? .json : format), environment: options.environment))
        }
    }
}
