import ClaudeAuthAPI

/// How an `oauth` profile reaches its authorization server (DESIGN §2).
public struct OAuthSettings: Sendable, Equatable {
    /// How the token endpoint wants its requests encoded.
    public enum TokenRequestEncoding: String, Sendable, Equatable {
        /// `application/x-www-form-urlencoded` (RFC 6749).
        case form
        /// `application/json` (Anthropic's endpoint, among others).
        case json
    }

    /// How a confidential client presents its secret.
    public enum ClientAuthentication: String, Sendable, Equatable {
        /// HTTP Basic (RFC 6749 §2.3.1).
        case basic
        /// `client_secret` in the request body.
        case body
    }

    /// How `login` signs in when the client does not say.
    public enum LoginFlow: String, Sendable, Equatable {
        /// Authorization Code + PKCE through a browser (RFC 6749 §4.1, RFC 7636).
        case browser
        /// The device authorization grant (RFC 8628).
        case device
    }

    /// The client identifier.
    public var clientID: String
    /// The authorization server's issuer identifier, whose metadata supplies the endpoints not configured.
    public var issuer: String?
    /// The endpoints configured, or, once resolved, those the daemon calls.
    public var endpoints: OAuthEndpoints
    /// How `login` signs in by default.
    public var loginFlow: LoginFlow
    /// The scopes requested.
    public var scopes: [String]
    /// The loopback redirect port; 0 for an ephemeral one.
    public var redirectPort: Int
    /// The redirect URI's host: `localhost` or a loopback address.
    public var redirectHost: String
    /// The redirect URI's path.
    public var redirectPath: String
    /// The token endpoint's body encoding.
    public var tokenRequest: TokenRequestEncoding
    /// How the client secret, if any, is sent.
    public var clientAuthentication: ClientAuthentication
    /// Where the client secret is read from: a file, or `$CREDENTIALS_DIRECTORY` under systemd.
    public var clientSecretFile: String?
    /// The client secret given in the daemon's environment (`CLAUDE_OAUTH_CLIENT_SECRET`).
    public var clientSecret: Secret?
    /// Extra trust anchors for the token endpoint (PEM).
    public var caFile: String?
    /// Extra query parameters for the authorize URL.
    public var authorizeParameters: [HeaderField]
    /// How long a login may stay pending, in seconds.
    public var loginTimeout: Int
    /// The validity, in seconds, a served access token keeps at least; a request finding less refreshes first.
    public var minimumValidity: Int
    /// How long one call to the token endpoint may take, in seconds.
    public var tokenTimeout: Int

    /// Creates settings with the seed's defaults: port 8089, path `/callback`, form requests, 5-minute logins,
    /// a minute's minimum validity and 15 s per token request.
    public init(
        clientID: String,
        issuer: String? = nil,
        endpoints: OAuthEndpoints,
        loginFlow: LoginFlow = .browser,
        scopes: [String] = [],
        redirectPort: Int = 8089,
        redirectHost: String = "localhost",
        redirectPath: String = "/callback",
        tokenRequest: TokenRequestEncoding = .form,
        clientAuthentication: ClientAuthentication = .basic,
        clientSecretFile: String? = nil,
        clientSecret: Secret? = nil,
        caFile: String? = nil,
        authorizeParameters: [HeaderField] = [],
        loginTimeout: Int = 300,
        minimumValidity: Int = 60,
        tokenTimeout: Int = 15
    ) {
        self.clientID = clientID
        self.issuer = issuer
        self.endpoints = endpoints
        self.loginFlow = loginFlow
        self.scopes = scopes
        self.redirectPort = redirectPort
        self.redirectHost = redirectHost
        self.redirectPath = redirectPath
        self.tokenRequest = tokenRequest
        self.clientAuthentication = clientAuthentication
        self.clientSecretFile = clientSecretFile
        self.clientSecret = clientSecret
        self.caFile = caFile
        self.authorizeParameters = authorizeParameters
        self.loginTimeout = loginTimeout
        self.minimumValidity = minimumValidity
        self.tokenTimeout = tokenTimeout
    }

    /// The identity its tokens are stored under (DESIGN §5): the issuer when there is one, else the token URL, with
    /// client and scopes. So it is known before the issuer's metadata is read, and does not change when that is.
    public var identity: CredentialIdentity {
        let server = issuer.map { "issuer=\($0)" } ?? "token_url=\(endpoints.token ?? "")"
        return CredentialIdentity(canonical: "oauth\n\(server)\nclient_id=\(clientID)\nscopes=\(scopes.sorted().joined(separator: " "))")
    }

    /// How long a refresh grant stays open for the server's answer, in seconds: far longer than a client waits
    /// (``tokenTimeout``), because a request given up on may still be processed by a slow or stalled server,
    /// which would rotate the refresh token away from the daemon.
    public var refreshDeadline: Int {
        tokenTimeout * 10
    }

    /// The refresh timing for this profile.
    public var refreshPolicy: RefreshPolicy {
        RefreshPolicy(minimumValidity: Double(minimumValidity))
    }

    /// The redirect URI for a listener on `port`.
    public func redirectURI(port: Int) -> String {
        let host = redirectHost.contains(":") ? "[\(redirectHost)]" : redirectHost
        return "http://\(host):\(port)\(redirectPath)"
    }
}

/// The parts of an absolute http(s) URL that the daemon checks.
public struct EndpointURL: Sendable, Equatable {
    /// `http` or `https`.
    public var scheme: String
    /// The host, without brackets.
    public var host: String
    /// The port, if given.
    public var port: Int?
    /// The path and query, `/` at least.
    public var pathAndQuery: String

    /// Parses an absolute http(s) URL without user information or fragment; nil when it is not one.
    public init?(_ text: String) {
        guard let schemeEnd = text.firstRange(of: "://") else { return nil }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.isEmpty, !authority.contains("@"), !text.contains("#"),
            text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        var host = Substring(authority)
        var port: Int?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else { return nil }
                port = value
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        if let port, !(1...65535).contains(port) { return nil }
        guard !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        let path = rest[authorityEnd...]
        self.pathAndQuery = path.isEmpty ? "/" : String(path)
    }

    /// Anthropic's API, every profile's default upstream.
    public static let anthropicAPI = EndpointURL(scheme: "https", host: "api.anthropic.com", port: nil, pathAndQuery: "/")

    private init(scheme: String, host: String, port: Int?, pathAndQuery: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.pathAndQuery = pathAndQuery
    }

    /// `scheme://host[:port]`, without path or query.
    public var origin: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(bracketed)" + (port.map { ":\($0)" } ?? "")
    }

    /// The URL without a trailing slash, as a base that request paths are appended to.
    public var baseURL: String {
        origin + (pathAndQuery == "/" ? "" : String(pathAndQuery.reversed().drop { $0 == "/" }.reversed()))
    }

    /// Whether the host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Whether the daemon may send secrets to it: HTTPS, or plain HTTP to a loopback host.
    public var isAcceptableForSecrets: Bool {
        scheme == "https" || isLoopback
    }
}
