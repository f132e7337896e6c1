import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthCore
import ClaudeAuthDaemon

#if canImport(Glibc)
import Glibc
#endif

/// `claude-authd`: the per-user credential daemon.
@main
struct ClaudeAuthd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claude-authd",
        abstract: "Holds API keys and OAuth tokens and serves auth headers over a Unix socket.",
        discussion: "Normally started by systemd through claude-authd.socket. Stops on SIGTERM; reloads its configuration on SIGHUP.",
        version: claudeAuthVersion
    )

    @Option(help: "The socket to bind when not socket-activated (default: $CLAUDE_AUTH_SOCKET, else $XDG_RUNTIME_DIR/claude-auth/socket).")
    var socket: String?

    @Option(help: "The configuration file (default: $XDG_CONFIG_HOME/claude-auth/config.toml).")
    var config: String?

    @Option(help: "Seconds a client has to send a whole request before its connection is closed.")
    var requestTimeout: Double = 10

    @Flag(help: "Check the configuration, print what is wrong, and exit (0 valid, 78 invalid).")
    var checkConfig = false

    /// The units start the daemon without arguments: that start goes straight to serving, without the argument
    /// parser, whose reflection costs the cold start milliseconds. Any argument goes to the parser.
    static func main() async {
        guard CommandLine.arguments.count > 1 else {
            let environment = ProcessEnvironment.current()
            let exit = await serve(daemon(socket: nil, config: nil, requestTimeout: 10, environment: environment), environment: environment)
            Glibc.exit(exit.rawValue)
        }
        await main(nil)
    }

    func run() async throws {
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be positive") }
        let environment = ProcessEnvironment.current()
        let daemon = Self.daemon(socket: socket, config: config, requestTimeout: requestTimeout, environment: environment)
        if checkConfig {
            do {
                let configuration = try daemon.checkConfiguration()
                print("\(daemon.configPath): valid, \(configuration.profiles.count) profile(s), default \(configuration.defaultProfile)")
                return
            } catch {
                StandardStream.error("claude-authd: \(error)\n")
                throw ExitCode(Daemon.Exit.config.rawValue)
            }
        }
        let exit = await Self.serve(daemon, environment: environment)
        if exit != .success { throw ExitCode(exit.rawValue) }
    }

    private static func daemon(socket: String?, config: String?, requestTimeout: Double, environment: [String: String]) -> Daemon {
        Daemon(
            options: .init(
                socketPath: socket, configPath: config, environment: environment, requestTimeout: .milliseconds(Int64(requestTimeout * 1000))))
    }

    private static func serve(_ daemon: Daemon, environment: [String: String]) async -> Daemon.Exit {
        Daemon.bootstrapLogging(environment: environment)
        return await daemon.run()
    }
}
