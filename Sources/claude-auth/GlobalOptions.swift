import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

#if canImport(Glibc)
import Glibc
#endif

/// The options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The daemon's socket (default: $CLAUDE_AUTH_SOCKET, else $XDG_RUNTIME_DIR/claude-auth/socket).")
    var socket: String?

    @Option(help: "The profile to use (default: the environment, else the daemon's default profile).")
    var profile: String?

    @Flag(help: "Ignore ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN; ask the daemon.")
    var noEnv = false

    @Flag(help: "Print JSON for scripts.")
    var json = false

    /// The client's environment.
    let environment = ProcessEnvironment.current()

    enum CodingKeys: CodingKey {
        case socket, profile, noEnv, json
    }

    init() {}

    /// Options given by a command that declares its own.
    init(socket: String?, profile: String?) {
        self.socket = socket
        self.profile = profile
    }

    /// What `header` or `token` is asked for.
    func request(format: HeaderFormat = .http) -> CredentialRequest {
        CredentialRequest(profile: profile, socket: socket, ignoresEnvironment: noEnv, format: format)
    }

    /// The resolved socket path.
    func socketPath() throws(ClientError) -> String {
        try socketLocation().path
    }

    /// The resolved socket path, and why it is the one.
    func socketLocation() throws(ClientError) -> SocketPath.Located {
        do {
            return try SocketPath.locate(explicit: socket, environment: environment)
        } catch {
            throw .usage(error.description)
        }
    }

    /// `claude-authd` beside this executable, else on PATH: for `--check-config`.
    func daemonExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        var candidates: [String] = []
        if length > 0 {
            let own = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = own.lastIndex(of: "/") { candidates.append(String(own[..<slash]) + "/claude-authd") }
        }
        candidates += (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/claude-authd" }
        return candidates.first { access($0, X_OK) == 0 }
    }

    /// A client of the daemon.
    func client(timeout: Int = 30) throws(ClientError) -> DaemonClient {
        DaemonClient(socketPath: try socketPath(), timeout: timeout)
    }
}

/// Runs a command body, turning a ``ClientError`` into its message on stderr and its exit status.
func reportingErrors(_ body: () throws(ClientError) -> Void) throws(ExitCode) {
    do {
        try body()
    } catch {
        StandardStream.error("claude-auth: \(error.message)\n")
        throw ExitCode(error.exitCode)
    }
}

/// Writes bytes to standard output as they are.
func writeOut(_ bytes: [UInt8]) {
    StandardStream.output(bytes)
}

/// Writes text to standard output as it is.
func writeOut(_ text: String) {
    StandardStream.output(text)
}

extension HeaderFormat: ExpressibleByArgument {}
