import ClaudeAuthAPI

/// The daemon's configuration: profiles by name and the default one (DESIGN §2).
public struct Configuration: Sendable, Equatable {
    /// The name of the profile used when none is named: `default_profile`, else `default`.
    public var defaultProfile: String
    /// Every configured profile, by name.
    public var profiles: [String: Profile]
    /// `[desktop] sign_in_prompts`: whether an oauth profile that needs a login gets a desktop notification.
    public var signInPrompts: Bool

    /// Creates a configuration.
    public init(defaultProfile: String = "default", profiles: [String: Profile] = [:], signInPrompts: Bool = true) {
        self.defaultProfile = defaultProfile
        self.profiles = profiles
        self.signInPrompts = signInPrompts
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

    /// Creates a profile.
    public init(name: String, credential: CredentialSpec, headers: [HeaderField] = [], fallback: String? = nil, git: GitSettings = GitSettings()) {
        self.name = name
        self.credential = credential
        self.headers = headers
        self.fallback = fallback
        self.git = git
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
