import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

/// `claude-auth refresh`: refreshes an oauth profile's token, or only the one a client saw rejected.
struct RefreshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Refresh an oauth profile's access token now.",
        discussion: """
            After an HTTP 401, pass the rejected token's fingerprint (--if-token-fingerprint, as `status` shows it) or \
            the token itself on standard input (--if-token): the daemon refreshes only if it still serves that token, \
            so many clients that saw the same 401 cause one refresh. Prints the fingerprint of the token now served.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(name: .customLong("if-token-fingerprint"), help: ArgumentHelp("Refresh only while this is the token served.", valueName: "FINGERPRINT"))
    var fingerprint: String?

    @Flag(name: .customLong("if-token"), help: "Read the rejected token from standard input; refresh only while it is the one served.")
    var tokenFromStandardInput = false

    func validate() throws {
        if fingerprint != nil && tokenFromStandardInput {
            throw ValidationError("give --if-token-fingerprint or --if-token, not both")
        }
    }

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            var condition = RefreshRequest(ifFingerprint: fingerprint)
            if tokenFromStandardInput {
                let token = StandardStream.readAll(limit: 16 * 1024).map { String(decoding: $0, as: UTF8.self) }
                guard let token = token?.split(whereSeparator: \.isWhitespace).first, !token.isEmpty else {
                    throw .usage("--if-token reads the rejected token from standard input, and found none")
                }
                condition.ifToken = String(token)
            }
            let (json, answer) = try options.client().refresh(profile: options.profile, condition: condition)
            if options.json { writeOut(json) } else { writeOut(answer.fingerprint + "\n") }
            if !answer.refreshed {
                StandardStream.error("note: the token had already been replaced; nothing to refresh\n")
            }
        }
    }

}
