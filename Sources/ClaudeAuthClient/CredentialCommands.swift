import ClaudeAuthAPI

/// What `header` or `token` is asked for.
public struct CredentialRequest: Sendable, Equatable {
    /// `--profile`.
    public var profile: String?
    /// `--socket`.
    public var socket: String?
    /// `--no-env`: skip `ANTHROPIC_API_KEY` and `ANTHROPIC_AUTH_TOKEN`.
    public var ignoresEnvironment: Bool
    /// `header --format`.
    public var format: HeaderFormat

    /// Creates a request.
    public init(profile: String? = nil, socket: String? = nil, ignoresEnvironment: Bool = false, format: HeaderFormat = .http) {
        self.profile = profile
        self.socket = socket
        self.ignoresEnvironment = ignoresEnvironment
        self.format = format
    }
}

/// `header` and `token`: the client's hot path, shared by the argument parser and ``FastPath``.
public enum CredentialCommands {
    /// The header lines of the credential, in the requested format.
    public static func header(_ request: CredentialRequest, environment: [String: String]) throws(ClientError) -> [UInt8] {
        if let credential = environmentCredential(request, environment) {
            return Array(request.format.render(credential.headers).utf8)
        }
        let text = try client(request, environment).headerText(profile: request.profile)
        return request.format == .http ? text : Array(request.format.render(HeaderFormat.parse(text)).utf8)
    }

    /// The bare token or key, with a newline.
    public static func token(_ request: CredentialRequest, environment: [String: String]) throws(ClientError) -> [UInt8] {
        if let credential = environmentCredential(request, environment) {
            return Array((credential.token + "\n").utf8)
        }
        return try client(request, environment).tokenText(profile: request.profile)
    }

    /// The credential from the environment, when the seed's order puts it first: no `--profile`, no `--no-env`.
    static func environmentCredential(_ request: CredentialRequest, _ environment: [String: String]) -> EnvironmentCredential? {
        request.profile == nil && !request.ignoresEnvironment ? EnvironmentCredential(environment: environment) : nil
    }

    private static func client(_ request: CredentialRequest, _ environment: [String: String]) throws(ClientError) -> DaemonClient {
        do {
            return DaemonClient(socketPath: try SocketPath.resolve(explicit: request.socket, environment: environment))
        } catch {
            throw .usage(error.description)
        }
    }
}
