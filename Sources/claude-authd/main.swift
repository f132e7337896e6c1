import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthCore
import ClaudeAuthDaemon

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

    func run() async throws {
        let environment = ProcessEnvironment.current()
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be positive") }
        let daemon = Daemon(
            options: .init(
                socketPath: socket, configPath: config, environment: environment,
                requestTimeout: .milliseconds(Int64(requestTimeout * 1000))))
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
        Daemon.bootstrapLogging(environment: environment)
        let exit = await daemon.run()
        if exit != .success { throw ExitCode(exit.rawValue) }
    }
}
