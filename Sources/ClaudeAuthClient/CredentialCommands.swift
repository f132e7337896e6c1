#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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
    /// `--min-validity`: the seconds the credential must stay valid.
    public var minimumValidity: Int?

    /// Creates a request.
    public init(
        profile: String? = nil, socket: String? = nil, ignoresEnvironment: Bool = false, format: HeaderFormat = .http, minimumValidity: Int? = nil
    ) {
        self.profile = profile
        self.socket = socket
        self.ignoresEnvironment = ignoresEnvironment
        self.format = format
        self.minimumValidity = minimumValidity
    }
}

/// `header` and `token`: the client's hot path, shared by the argument parser and ``FastPath``.
public enum CredentialCommands {
    /// The header lines of the credential, in the requested format.
    public static func header(_ request: CredentialRequest, environment: some EnvironmentVariables) throws(ClientError) -> [UInt8] {
        if let credential = environmentCredential(request, environment) {
            return Array(request.format.render(credential.headers).utf8)
        }
        if let asked = request.minimumValidity {
            return Array(request.format.render(try validCredential(request, environment, for: asked).headers).utf8)
        }
        let text = try client(request, environment).headerText(profile: request.profile)
        return request.format == .http ? text : Array(request.format.render(HeaderFormat.parse(text)).utf8)
    }

    /// The bare token or key, with a newline.
    public static func token(_ request: CredentialRequest, environment: some EnvironmentVariables) throws(ClientError) -> [UInt8] {
        if let credential = environmentCredential(request, environment) {
            return Array((credential.token + "\n").utf8)
        }
        if let asked = request.minimumValidity {
            return Array((try validCredential(request, environment, for: asked).token + "\n").utf8)
        }
        return try client(request, environment).tokenText(profile: request.profile)
    }

    /// The credential, valid `asked` seconds more if the server's tokens live that long; a warning on stderr if not.
    private static func validCredential(_ request: CredentialRequest, _ environment: some EnvironmentVariables, for asked: Int) throws(ClientError) -> CredentialResponse {
        let credential = try client(request, environment).credential(profile: request.profile, minimumValidity: asked)
        if let warning = shortLifetimeWarning(credential, asked: asked, now: Date()) { StandardStream.error(warning) }
        return credential
    }

    /// What to say when the credential served expires sooner than `asked` seconds from `now`.
    static func shortLifetimeWarning(_ credential: CredentialResponse, asked: Int, now: Date) -> String? {
        guard let expiresAt = credential.expiresAt else { return nil }
        let left = Int(clampingSeconds: expiresAt.timeIntervalSince(now))
        guard left < asked else { return nil }
        return "claude-auth: warning: the token of profile \(credential.servedProfile) is valid for \(max(left, 0)) s more, less than the "
            + "\(asked) s asked for: the server issues shorter-lived tokens\n"
    }

    /// The credential from the environment, when the seed's order puts it first: no `--profile`, no `--no-env`.
    static func environmentCredential(_ request: CredentialRequest, _ environment: some EnvironmentVariables) -> EnvironmentCredential? {
        request.profile == nil && !request.ignoresEnvironment ? EnvironmentCredential(environment: environment) : nil
    }

    private static func client(_ request: CredentialRequest, _ environment: some EnvironmentVariables) throws(ClientError) -> DaemonClient {
        do {
            return DaemonClient(socketPath: try SocketPath.resolve(explicit: request.socket, environment: environment))
        } catch {
            throw .usage(error.description)
        }
    }
}
