import ClaudeAuthAPI

/// A credential taken from the client's environment, ahead of the daemon (the seed's resolution order):
/// `ANTHROPIC_API_KEY`, else `ANTHROPIC_AUTH_TOKEN`.
public enum EnvironmentCredential: Sendable, Equatable {
    /// An API key: `x-api-key` plus `anthropic-version`.
    case apiKey(String)
    /// A gateway bearer token: `Authorization: Bearer` only.
    case authToken(String)

    /// The first credential set in `environment`, if any.
    public init?(environment: some EnvironmentVariables) {
        if let key = environment[Anthropic.Environment.apiKey], !key.isEmpty {
            self = .apiKey(key)
        } else if let token = environment[Anthropic.Environment.authToken], !token.isEmpty {
            self = .authToken(token)
        } else {
            return nil
        }
    }

    /// The variable it came from.
    public var variable: String {
        switch self {
        case .apiKey: Anthropic.Environment.apiKey
        case .authToken: Anthropic.Environment.authToken
        }
    }

    /// The bare credential.
    public var token: String {
        switch self {
        case .apiKey(let value), .authToken(let value): value
        }
    }

    /// The headers that carry it.
    public var headers: [HeaderField] {
        switch self {
        case .apiKey(let key):
            [
                HeaderField(name: Anthropic.Header.apiKey, value: key),
                HeaderField(name: Anthropic.Header.version, value: Anthropic.apiVersion),
            ]
        case .authToken(let token):
            [HeaderField(name: Anthropic.Header.authorization, value: "Bearer \(token)")]
        }
    }
}
