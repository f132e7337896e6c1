#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One HTTP header, in the order the daemon serves it.
public struct HeaderField: Codable, Sendable, Equatable {
    /// The header name, e.g. `x-api-key`.
    public var name: String
    /// The header value.
    public var value: String

    /// Creates a header field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `GET /v1/health`.
public struct HealthResponse: Codable, Sendable, Equatable {
    /// Always `ok` when the daemon answers.
    public var status: String
    /// The daemon's version.
    public var version: String

    /// Creates a health answer.
    public init(status: String = "ok", version: String) {
        self.status = status
        self.version = version
    }
}

/// `GET /v1/headers`: the ready-to-use headers of one profile.
public struct HeadersResponse: Codable, Sendable, Equatable {
    /// The profile served.
    public var profile: String
    /// Its kind.
    public var kind: ProfileKind
    /// The headers, name to value.
    public var headers: [String: String]
    /// When the credential expires, for expiring credentials.
    public var expiresAt: Date?
    /// The credential's fingerprint (DESIGN §3).
    public var fingerprint: String

    enum CodingKeys: String, CodingKey {
        case profile, kind, headers, fingerprint
        case expiresAt = "expires_at"
    }

    /// Creates a headers answer.
    public init(profile: String, kind: ProfileKind, headers: [String: String], expiresAt: Date?, fingerprint: String) {
        self.profile = profile
        self.kind = kind
        self.headers = headers
        self.expiresAt = expiresAt
        self.fingerprint = fingerprint
    }
}

/// `GET /v1/credential`: everything a helper answers with, in its own protocol.
public struct CredentialResponse: Codable, Sendable, Equatable {
    /// The profile asked for.
    public var profile: String
    /// The profile served: the one asked for, or its fallback.
    public var servedProfile: String
    /// The kind of the credential served.
    public var kind: ProfileKind
    /// The bare token or key.
    public var token: String
    /// The headers, in the order served.
    public var headers: [HeaderField]
    /// When the credential expires, for expiring credentials.
    public var expiresAt: Date?
    /// The credential's fingerprint.
    public var fingerprint: String
    /// The user name git is given with the token (`git_username`).
    public var gitUsername: String

    enum CodingKeys: String, CodingKey {
        case profile, kind, token, headers, fingerprint
        case servedProfile = "served_profile"
        case expiresAt = "expires_at"
        case gitUsername = "git_username"
    }

    /// Creates a credential answer.
    public init(
        profile: String, servedProfile: String, kind: ProfileKind, token: String, headers: [HeaderField], expiresAt: Date?, fingerprint: String,
        gitUsername: String
    ) {
        self.profile = profile
        self.servedProfile = servedProfile
        self.kind = kind
        self.token = token
        self.headers = headers
        self.expiresAt = expiresAt
        self.fingerprint = fingerprint
        self.gitUsername = gitUsername
    }
}

/// `GET /v1/status`: every profile, without secrets.
public struct StatusResponse: Codable, Sendable, Equatable {
    /// The configuration in force.
    public struct Config: Codable, Sendable, Equatable {
        /// The file it was read from.
        public var path: String
        /// Whether that file exists (no file means no profiles).
        public var exists: Bool
        /// When it was loaded.
        public var loadedAt: Date
        /// Why the last reload was refused, when it was.
        public var lastReloadError: String?

        enum CodingKeys: String, CodingKey {
            case path, exists
            case loadedAt = "loaded_at"
            case lastReloadError = "last_reload_error"
        }

        /// Creates a configuration summary.
        public init(path: String, exists: Bool, loadedAt: Date, lastReloadError: String?) {
            self.path = path
            self.exists = exists
            self.loadedAt = loadedAt
            self.lastReloadError = lastReloadError
        }
    }

    /// One profile.
    public struct Profile: Codable, Sendable, Equatable {
        /// Its name.
        public var name: String
        /// Its kind.
        public var kind: ProfileKind
        /// Whether it is the default profile.
        public var isDefault: Bool
        /// What it can do now.
        public var state: ProfileState
        /// Where its credential comes from, e.g. `env:ANTHROPIC_API_KEY`, `file:/path`, `stored`.
        public var source: String
        /// The credential's fingerprint, when there is one.
        public var fingerprint: String?
        /// What is wrong and what to do, when the state is not `ready`.
        public var message: String?
        /// The refresh timeline, for `oauth` profiles holding tokens.
        public var refresh: RefreshStatus?
        /// The official SDKs' profile files the daemon keeps for it, when it has `sdk_profile`.
        public var sdkProfile: SDKProfileStatus?
        /// What the proxy did with it since the daemon started.
        public var proxy: ProxyCounters?

        enum CodingKeys: String, CodingKey {
            case name, kind, state, source, fingerprint, message, refresh, proxy
            case isDefault = "default"
            case sdkProfile = "sdk_profile"
        }

        /// Creates a profile summary.
        public init(
            name: String,
            kind: ProfileKind,
            isDefault: Bool,
            state: ProfileState,
            source: String,
            fingerprint: String?,
            message: String?,
            refresh: RefreshStatus? = nil
        ) {
            self.name = name
            self.kind = kind
            self.isDefault = isDefault
            self.state = state
            self.source = source
            self.fingerprint = fingerprint
            self.message = message
            self.refresh = refresh
        }
    }

    /// The daemon's version.
    public var version: String
    /// The profile used when none is named.
    public var defaultProfile: String
    /// The configuration in force.
    public var config: Config
    /// Every configured profile, by name.
    public var profiles: [Profile]
    /// The local proxy.
    public var proxy: ProxyStatus?

    enum CodingKeys: String, CodingKey {
        case version, config, profiles, proxy
        case defaultProfile = "default_profile"
    }

    /// Creates a status answer.
    public init(version: String, defaultProfile: String, config: Config, profiles: [Profile], proxy: ProxyStatus? = nil) {
        self.version = version
        self.defaultProfile = defaultProfile
        self.config = config
        self.profiles = profiles
        self.proxy = proxy
    }
}

/// Where an `oauth` profile's tokens stand in the refresh cycle (DESIGN §6).
public struct RefreshStatus: Codable, Sendable, Equatable {
    /// The outcome of the last refresh.
    public struct Attempt: Codable, Sendable, Equatable {
        /// When it ended.
        public var at: Date
        /// `succeeded` or `failed`.
        public var result: String
        /// Why it failed.
        public var message: String?

        /// Creates an attempt record.
        public init(at: Date, result: String, message: String?) {
            self.at = at
            self.result = result
            self.message = message
        }
    }

    /// When the access token expires, if the server said.
    public var expiresAt: Date?
    /// When the next refresh or retry is planned.
    public var nextRefreshAt: Date?
    /// Whether a refresh is in flight.
    public var refreshing: Bool
    /// The last refresh.
    public var last: Attempt?
    /// Transient failures since the last success.
    public var consecutiveFailures: Int

    enum CodingKeys: String, CodingKey {
        case refreshing, last
        case expiresAt = "expires_at"
        case nextRefreshAt = "next_refresh_at"
        case consecutiveFailures = "consecutive_failures"
    }

    /// Creates a refresh status.
    public init(expiresAt: Date?, nextRefreshAt: Date?, refreshing: Bool, last: Attempt?, consecutiveFailures: Int) {
        self.expiresAt = expiresAt
        self.nextRefreshAt = nextRefreshAt
        self.refreshing = refreshing
        self.last = last
        self.consecutiveFailures = consecutiveFailures
    }
}

/// `POST /v1/refresh`'s body, all optional: refresh only if the current token is still the one named.
public struct RefreshRequest: Codable, Sendable, Equatable {
    /// The fingerprint of the token a client saw rejected.
    public var ifFingerprint: String?
    /// The token a client saw rejected; the daemon compares its fingerprint.
    public var ifToken: String?

    enum CodingKeys: String, CodingKey {
        case ifFingerprint = "if_fingerprint"
        case ifToken = "if_token"
    }

    /// Creates a refresh request.
    public init(ifFingerprint: String? = nil, ifToken: String? = nil) {
        self.ifFingerprint = ifFingerprint
        self.ifToken = ifToken
    }
}

/// `POST /v1/refresh`'s answer.
public struct RefreshResponse: Codable, Sendable, Equatable {
    /// The profile.
    public var profile: String
    /// Whether this request's refresh (or the one it joined) replaced the token; false when it had already changed.
    public var refreshed: Bool
    /// The fingerprint of the token now served.
    public var fingerprint: String
    /// When it expires.
    public var expiresAt: Date?

    enum CodingKeys: String, CodingKey {
        case profile, refreshed, fingerprint
        case expiresAt = "expires_at"
    }

    /// Creates a refresh answer.
    public init(profile: String, refreshed: Bool, fingerprint: String, expiresAt: Date?) {
        self.profile = profile
        self.refreshed = refreshed
        self.fingerprint = fingerprint
        self.expiresAt = expiresAt
    }
}

extension JSONEncoder {
    /// The encoder for the socket API's bodies: ISO 8601 dates, stable key order.
    public static func api() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

extension JSONDecoder {
    /// The decoder for the socket API's bodies.
    public static func api() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// The official SDKs' profile files kept for an `oauth` profile.
public struct SDKProfileStatus: Codable, Sendable, Equatable {
    /// The SDK profile's name (`ANTHROPIC_PROFILE`).
    public var name: String
    /// Its credentials file.
    public var credentialsFile: String
    /// Why the files could not be written or removed, the last time that was tried.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case name, error
        case credentialsFile = "credentials_file"
    }

    /// Creates the summary.
    public init(name: String, credentialsFile: String, error: String?) {
        self.name = name
        self.credentialsFile = credentialsFile
        self.error = error
    }
}

/// What the proxy did with a profile since the daemon started.
public struct ProxyCounters: Codable, Sendable, Equatable {
    /// Requests forwarded upstream.
    public var requests: Int
    /// Requests replayed after the upstream refused a token with 401.
    public var replays: Int
    /// Requests the upstream did not answer: unreachable, untrusted or late.
    public var upstreamErrors: Int

    enum CodingKeys: String, CodingKey {
        case requests, replays
        case upstreamErrors = "upstream_errors"
    }

    /// Creates counters.
    public init(requests: Int = 0, replays: Int = 0, upstreamErrors: Int = 0) {
        self.requests = requests
        self.replays = replays
        self.upstreamErrors = upstreamErrors
    }
}

/// The local proxy's listeners.
public struct ProxyStatus: Codable, Sendable, Equatable {
    /// The TCP listener's address (`127.0.0.1:8787`), when there is one.
    public var listen: String?
    /// The profile served when a request names none.
    public var profile: String

    /// Creates the summary.
    public init(listen: String?, profile: String) {
        self.listen = listen
        self.profile = profile
    }
}

/// `DELETE /v1/key`'s answer.
public struct ForgottenResponse: Codable, Sendable, Equatable {
    /// The profile whose stored key is gone.
    public var profile: String

    /// Creates the answer.
    public init(profile: String) {
        self.profile = profile
    }
}

/// `GET /v1/issuer?url=ISSUER`: the endpoints an issuer's metadata names, as the daemon read and checked them.
public struct IssuerResponse: Codable, Sendable, Equatable {
    /// The issuer asked about.
    public var issuer: String
    /// The authorization endpoint, for browser logins.
    public var authorizeURL: String?
    /// The token endpoint.
    public var tokenURL: String?
    /// The revocation endpoint, used at logout.
    public var revocationURL: String?
    /// The device authorization endpoint, for `login --device`.
    public var deviceAuthorizationURL: String?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizeURL = "authorize_url"
        case tokenURL = "token_url"
        case revocationURL = "revocation_url"
        case deviceAuthorizationURL = "device_authorization_url"
    }

    /// Creates the answer.
    public init(issuer: String, authorizeURL: String?, tokenURL: String?, revocationURL: String?, deviceAuthorizationURL: String?) {
        self.issuer = issuer
        self.authorizeURL = authorizeURL
        self.tokenURL = tokenURL
        self.revocationURL = revocationURL
        self.deviceAuthorizationURL = deviceAuthorizationURL
    }
}
