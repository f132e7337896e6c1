import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

/// `claude-auth logout`: revokes, forgets and deletes an oauth profile's tokens.
struct LogoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logout",
        abstract: "Log out of an oauth profile: revoke its tokens where the server allows, forget them, delete them."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let answer = try options.client().logout(profile: options.profile)
            if let error = answer.revocationError {
                StandardStream.error("note: revoking at the authorization server failed (\(error)); the tokens are forgotten here anyway\n")
            }
            StandardStream.error("Logged out of profile \"\(answer.profile)\"\(answer.revoked ? " (tokens revoked)" : "").\n")
        }
    }
}
