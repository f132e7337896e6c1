import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

#if canImport(Glibc)
import Glibc
#endif

/// `claude-auth`: the thin client of claude-authd.
@main
struct ClaudeAuth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claude-auth",
        abstract: "Prints auth headers and tokens served by claude-authd, and manages its profiles.",
        discussion: """
            Without --profile, `header` and `token` use ANTHROPIC_API_KEY, else ANTHROPIC_AUTH_TOKEN, else the \
            daemon's default profile (--no-env skips the environment).
            Exit status: 0 ok, 64 usage, 69 daemon unreachable, 75 temporary failure, \
            77 login required or missing credentials, 78 bad configuration.
            """,
        version: claudeAuthVersion,
        subcommands: [
            HeaderCommand.self, TokenCommand.self, LoginCommand.self, LogoutCommand.self, RefreshCommand.self, StatusCommand.self, SetKeyCommand.self,
            DoctorCommand.self, GitCredentialCommand.self, KubeCredentialCommand.self, ExecCommand.self, AddProfileCommand.self,
            RemoveProfileCommand.self,
        ]
    )

    @OptionGroup var options: GlobalOptions

    /// Runs `header` and `token` through ``FastPath`` when it recognises the call, else the argument parser.
    static func main() {
        guard let (command, request) = FastPath.parse(Array(CommandLine.arguments.dropFirst())) else {
            main(nil)
            return
        }
        let environment = ProcessEnvironment()
        do {
            switch command {
            case .header: writeOut(try CredentialCommands.header(request, environment: environment))
            case .token: writeOut(try CredentialCommands.token(request, environment: environment))
            }
        } catch {
            StandardStream.error("claude-auth: \(error.message)\n")
            Glibc.exit(error.exitCode)
        }
    }
}
