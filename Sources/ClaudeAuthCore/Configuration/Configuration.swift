import ClaudeAuthAPI

/// The daemon's configuration: profiles by name and the default one (DESIGN §2).
public struct Configuration: Sendable, Equatable {
    /// The name of the profile used when none is named: `default_profile`, else `default`.
    public var defaultProfile: String
    /// Every configured profile, by name.
    public var profiles: [String: Profile]
    /// `[desktop] sign_in_prompts`: whether an oauth profile that needs a login gets a desktop notification.
    public var signInPrompts: Bool
    /// `[proxy]`: the local reverse proxy's listener and default profile.
    public var proxy: ProxySettings

    /// Creates a configuration.
    public init(defaultProfile: String = "default", profiles: [String: Profile] = [:], signInPrompts: Bool = true, proxy: ProxySettings = ProxySettings()) {
        self.defaultProfile = defaultProfile
        self.profiles = profiles
        self.signInPrompts = signInPrompts
        self.proxy = proxy
    }

    /// Whether a profile has `remote = true`, so the remote socket has something to serve.
    public var servesRemotely: Bool {
        profiles.values.contains { $0.remote }
    }

    /// The profile the proxy serves when a request names none: `[proxy] profile`, else the default profile.
    public var proxyProfile: String {
        proxy.profile ?? defaultProfile
    }

    /// The profiles sorted by name, for stable listings.
    public var sortedProfiles: [Profile] {
        profiles.values.sorted { $0.name < $1.name }
    }
}

/// One named credential.
public struct Profile: Sendable, Equatable {
    /// The profile's name.
    public var name: String
    /// What the profile holds and how it is obtained.
    public var credential: CredentialSpec
    /// Extra headers served with the credential; they override the kind's defaults.
    public var headers: [HeaderField]
    /// `fallback`: the api-key profile served while this `oauth` profile has no valid token.
    public var fallback: String?
    /// How `claude-auth git-credential` answers for the profile.
    public var git: GitSettings
    /// `upstream`: the API the proxy forwards this profile's requests to.
    public var upstream: EndpointURL
    /// `ca_file`: extra trust anchors (PEM) for the upstream and, for `oauth` profiles, the token endpoint.
    public var caFile: String?
    /// `sdk_profile`: the official SDKs' profile whose files the daemon keeps fresh (`oauth` profiles only).
    public var sdkProfile: String?
    /// `remote`: whether the restricted remote socket serves it.
    public var remote: Bool

    /// Creates a profile.
    public init(
        name: String, credential: CredentialSpec, headers: [HeaderField] = [], fallback: String? = nil, git: GitSettings = GitSettings(),
        upstream: EndpointURL = .anthropicAPI, caFile: String? = nil, sdkProfile: String? = nil, remote: Bool = false
    ) {
        self.name = name
        self.credential = credential
        self.headers = headers
        self.fallback = fallback
        self.git = git
        self.upstream = upstream
        self.caFile = caFile
        self.sdkProfile = sdkProfile
        self.remote = remote
    }

    /// The profile's kind.
    public var kind: ProfileKind {
        switch credential {
        case .apiKey: .apiKey
        case .oauth: .oauth
        }
    }
}

/// How a profile's credential is obtained.
public enum CredentialSpec: Sendable, Equatable {
    /// A static API key.
    case apiKey(APIKeySource)
    /// OAuth 2.0 tokens from Authorization Code + PKCE.
    case oauth(OAuthSettings)
}

/// Where an API key comes from.
public enum APIKeySource: Sendable, Equatable {
    /// An environment variable of the daemon.
    case environment(String)
    /// A file, which must be private to the user.
    case file(String)
    /// The credential store, written by `claude-auth set-key`.
    case stored

    /// A short, secret-free description: `env:NAME`, `file:PATH`, `stored`.
    public var summary: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        case .stored: "stored"
        }
    }
}

/// What git's credential protocol gets for a profile.
public struct GitSettings: Sendable, Equatable {
    /// `git_username`: the user name sent with the token.
    public var username: String
    /// `git_hosts`: the hosts (as git names them, `host[:port]`) the profile answers for; nil: any.
    public var hosts: [String]?

    /// Creates the settings; by default user `oauth2`, as forges expect with a token, for any host.
    public init(username: String = "oauth2", hosts: [String]? = nil) {
        self.username = username
        self.hosts = hosts
    }

    /// Whether the profile answers for `host`, compared without regard to case.
    public func covers(_ host: String) -> Bool {
        guard let hosts else { return true }
        return hosts.contains { $0.lowercased() == host.lowercased() }
    }
}

/// `[proxy]`: where the local reverse proxy listens over TCP, and for whom.
public struct ProxySettings: Sendable, Equatable {
    /// `listen`: a loopback address and port for the TCP listener (port 0: any free one); nil: no TCP listener.
    public var listen: LoopbackAddress?
    /// `profile`: the profile served when a request names none; nil: the default profile.
    public var profile: String?
    /// `upstream_timeout`: seconds the upstream may take to start its answer, and may stay silent within it.
    public var upstreamTimeout: Int

    /// Creates the settings: no TCP listener, the default profile, ten minutes for the upstream.
    public init(listen: LoopbackAddress? = nil, profile: String? = nil, upstreamTimeout: Int = 600) {
        self.listen = listen
        self.profile = profile
        self.upstreamTimeout = upstreamTimeout
    }
}

/// A loopback IP address and port: `127.0.0.1:8787`, `[::1]:8787`, or `localhost:8787` (127.0.0.1).
public struct LoopbackAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address, `127.x.y.z` or `::1`.
    public var host: String
    /// The port; 0 for any free one.
    public var port: Int

    /// Parses `HOST:PORT`; nil unless the host is a loopback IP address (or `localhost`) and the port 0–65535.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard host == "::1" else { return nil }
        } else {
            let octets = host.split(separator: ".", omittingEmptySubsequences: false)
            guard octets.count == 4, octets.first == "127",
                octets.allSatisfy({ octet in octet.count <= 3 && UInt8(octet) != nil })
            else { return nil }
        }
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around an IPv6 address: what a `Host` header names.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
