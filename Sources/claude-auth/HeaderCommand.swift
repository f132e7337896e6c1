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

    @Option(help: ArgumentHelp("Serve a token valid at least this long, refreshing first if need be.", valueName: "SECONDS"))
    var minValidity: Int?

    @Option(help: "http: `Name: value` lines; curl: a curl config (-K); json: an object.")
    var format: HeaderFormat = .http

    func validate() throws {
        if let minValidity, !(0...86400).contains(minValidity) { throw ValidationError("--min-validity takes 0 to 86400 seconds") }
    }

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            var request = options.request(format: options.json ? .json : format)
            request.minimumValidity = minValidity
            writeOut(try CredentialCommands.header(request, environment: options.environment))
        }
    }
}
