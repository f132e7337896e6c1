#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
import ClaudeAuthCore
import Logging
import NIOPosix
import Synchronization

/// A credential ready to be served: the headers in order, and the secret they carry.
struct ServedCredential: Sendable {
    /// The profile served: the one asked for, or its fallback.
    var profile: String
    var kind: ProfileKind
    var headers: [HeaderField]
    var secret: Secret
    var expiresAt: Date?
}

/// Holds the configuration and every profile's credential in memory, and answers for them.
///
/// Reads take a short lock and never wait on I/O beyond a profile's first load.
final class CredentialService: Sendable {
    private struct State {
        var configuration: Configuration
        var loadedAt: Date
        var lastReloadError: String?
        /// Keys loaded successfully; a failed load is retried on the next request.
        var keys: [String: Secret] = [:]
        /// The oauth profiles served from their fallback, and the fallback's name.
        var fallingBack: [String: String] = [:]
    }

    private let state: Mutex<State>
    private let configPath: String
    private let configLoader: ConfigurationLoader
    private let keyLoader: APIKeyLoader
    private let logger: Logger
    /// The `oauth` profiles' tokens and refreshes.
    let sessions: OAuthSessions
    /// What the proxy did, for `status`.
    let proxyStatistics: ProxyStatistics

    init(
        configuration: Configuration, configPath: String, environment: [String: String], stateDirectory: String,
        sessions: OAuthSessions, proxyStatistics: ProxyStatistics = ProxyStatistics(), logger: Logger
    ) {
        self.proxyStatistics = proxyStatistics
        self.state = Mutex(State(configuration: configuration, loadedAt: Date()))
        self.configPath = configPath
        self.configLoader = ConfigurationLoader(environment: environment)
        self.keyLoader = APIKeyLoader(environment: environment, store: CredentialStore(stateDirectory: stateDirectory))
        self.sessions = sessions
        self.logger = logger
        sessions.configure(configuration.sortedProfiles)
    }

    /// The credential of `name`, or of the default profile when nil; an `oauth` token about to expire, or valid
    /// for less than `minimumValidity` seconds, is refreshed first. An `oauth` profile that has no valid token
    /// because it needs a login or its token endpoint is down serves its `fallback`, if it names one.
    func credential(for name: String?, minimumValidity: TimeInterval? = nil) async throws(ServiceError) -> ServedCredential {
        let profile = try profile(named: name)
        switch profile.credential {
        case .apiKey(let source):
            return try await apiKeyCredential(profile, source)
        case .oauth:
            let tokens: TokenSet
            do {
                tokens = try await sessions.tokens(for: profile.name, minimumValidity: minimumValidity)
            } catch {
                guard error.code == .loginRequired || error.code == .tokenEndpointUnavailable, let fallback = fallback(of: profile) else { throw error }
                let served = try await apiKeyCredential(fallback.profile, fallback.source)
                noteFallback(profile.name, to: fallback.profile.name, because: error)
                return served
            }
            return oauthCredential(profile, tokens)
        }
    }

    /// The credential ``credential(for:minimumValidity:)`` would serve, when it is in memory and needs no refresh:
    /// what the socket server answers without leaving the event loop. Nil when anything would have to wait or fail.
    func readyCredential(for name: String?, minimumValidity: TimeInterval? = nil) -> ServedCredential? {
        let found = state.withLock { state -> (Profile, Secret?)? in
            guard let profile = state.configuration.profiles[name ?? state.configuration.defaultProfile] else { return nil }
            return (profile, state.keys[profile.name])
        }
        guard let (profile, key) = found else { return nil }
        switch profile.credential {
        case .apiKey:
            return key.map { Self.apiKeyCredential(profile, $0) }
        case .oauth:
            return sessions.readyTokens(for: profile.name, minimumValidity: minimumValidity).map { oauthCredential(profile, $0) }
        }
    }

    /// Where the proxy sends the requests of `name`, or of `[proxy] profile` when nil.
    func proxyRoute(for name: String?) throws(ServiceError) -> ProxyRoute {
        let configuration = state.withLock { $0.configuration }
        let profile = try profile(named: name ?? configuration.proxyProfile)
        return ProxyRoute(profile: profile.name, upstream: profile.upstream, caFile: profile.caFile, upstreamTimeout: configuration.proxy.upstreamTimeout)
    }

    /// The name of the profile `name` names, or of the default profile when nil.
    func profileName(_ name: String?) throws(ServiceError) -> String {
        try profile(named: name).name
    }

    /// Whether the profile `name` has `remote = true`.
    func isRemote(_ name: String) -> Bool {
        state.withLock { $0.configuration.profiles[name]?.remote } == true
    }

    /// The git settings of `name`, or of the default profile when nil.
    func gitSettings(for name: String?) throws(ServiceError) -> (profile: String, git: GitSettings) {
        let profile = try profile(named: name)
        return (profile.name, profile.git)
    }

    private func apiKeyCredential(_ profile: Profile, _ source: APIKeySource) async throws(ServiceError) -> ServedCredential {
        switch await loadKey(of: profile, from: source) {
        case .success(let key): return Self.apiKeyCredential(profile, key)
        case .failure(let problem): throw ServiceError(problem, profile: profile.name)
        }
    }

    private static func apiKeyCredential(_ profile: Profile, _ key: Secret) -> ServedCredential {
        ServedCredential(
            profile: profile.name,
            kind: .apiKey,
            headers: merge(
                [
                    HeaderField(name: Anthropic.Header.apiKey, value: key.unredacted),
                    HeaderField(name: Anthropic.Header.version, value: Anthropic.apiVersion),
                ], profile.headers),
            secret: key,
            expiresAt: nil
        )
    }

    /// An oauth profile's own token; serving it ends a fallback.
    private func oauthCredential(_ profile: Profile, _ tokens: TokenSet) -> ServedCredential {
        if profile.fallback != nil { noteFallback(profile.name, to: nil) }
        return ServedCredential(
            profile: profile.name,
            kind: .oauth,
            headers: Self.merge([HeaderField(name: Anthropic.Header.authorization, value: "Bearer \(tokens.accessToken.unredacted)")], profile.headers),
            secret: tokens.accessToken,
            expiresAt: tokens.expiresAt
        )
    }

    /// The api-key profile an oauth profile falls back to, as configured now.
    private func fallback(of profile: Profile) -> (profile: Profile, source: APIKeySource)? {
        guard let name = profile.fallback, let fallback = state.withLock({ $0.configuration.profiles[name] }),
            case .apiKey(let source) = fallback.credential
        else { return nil }
        return (fallback, source)
    }

    /// Logs a change in what an oauth profile is served from: its fallback (`to`), or itself again (nil).
    private func noteFallback(_ profile: String, to fallback: String?, because error: ServiceError? = nil) {
        let changed = state.withLock { state -> String?? in
            let before = state.fallingBack[profile]
            guard before != fallback else { return nil }
            state.fallingBack[profile] = fallback
            return before
        }
        guard let before = changed else { return }
        if let fallback {
            logger.warning(
                "serving the fallback profile", metadata: ["profile": "\(profile)", "fallback": "\(fallback)", "event": "fallback", "reason": "\(error?.message ?? "")"])
        } else if let before {
            logger.info("serving the oauth profile again", metadata: ["profile": "\(profile)", "fallback": "\(before)", "event": "fallback_ended"])
        }
    }

    /// The name and settings of an `oauth` profile, or of the default profile when nil.
    func oauthProfile(for name: String?) throws(ServiceError) -> (profile: String, settings: OAuthSettings) {
        let profile = try profile(named: name)
        guard case .oauth(let settings) = profile.credential else {
            throw ServiceError(code: .invalidRequest, message: "profile \"\(profile.name)\" is an api-key profile: it needs no login", profile: profile.name)
        }
        return (profile.name, settings)
    }

    /// The settings of an `oauth` profile and its client secret, for a login or a logout.
    func oauthSettings(for name: String?) throws(ServiceError) -> (profile: String, settings: OAuthSettings, clientSecret: Secret?) {
        let oauth = try oauthProfile(for: name)
        return (oauth.profile, oauth.settings, try sessions.clientSecret(of: oauth.settings, profile: oauth.profile))
    }

    /// Stores an API key for an `api-key` profile whose key is not taken from the environment or a file.
    func storeKey(_ value: String, for name: String) throws(ServiceError) {
        let profile = try profile(named: name)
        guard case .apiKey(let source) = profile.credential else {
            throw .invalidRequest("profile \"\(profile.name)\" is not an api-key profile")
        }
        guard source == .stored else {
            throw ServiceError(
                code: .invalidRequest,
                message: "profile \"\(profile.name)\" takes its key from \(source.summary); remove key_env/key_file "
                    + "from its configuration to store a key",
                profile: profile.name
            )
        }
        guard let key = APIKeyLoader.normalize(value).map(Secret.init) else {
            throw ServiceError(
                code: .invalidRequest,
                message: "the key is empty or holds spaces or control characters",
                profile: profile.name
            )
        }
        let credential = StoredCredential(
            identity: .apiKey(profile: profile.name), profile: profile.name, apiKey: key, storedAt: Date())
        do {
            try keyLoader.store.save(credential)
        } catch {
            logger.error("cannot store key", metadata: ["profile": "\(profile.name)", "error": "\(error)"])
            throw ServiceError(code: .internalError, message: "cannot store the key: \(error)", profile: profile.name)
        }
        state.withLock { $0.keys[profile.name] = key }
        logger.info(
            "stored API key",
            metadata: ["profile": "\(profile.name)", "event": "key_stored", "fingerprint": "\(key.fingerprint)"])
    }

    /// Deletes the key stored for `name` (a profile configured now or removed since), and forgets it in memory.
    func forgetKey(of name: String) throws(ServiceError) {
        do {
            try keyLoader.store.delete(.apiKey(profile: name))
        } catch {
            throw ServiceError(code: .internalError, message: "cannot delete the stored key: \(error)", profile: name)
        }
        _ = state.withLock { $0.keys.removeValue(forKey: name) }
        logger.info("forgot the stored API key", metadata: ["profile": "\(name)", "event": "key_forgotten"])
    }

    /// Re-reads the configuration file; an invalid one is refused and the one in force is kept.
    func reload() throws(ConfigurationError) {
        do {
            let configuration = try configLoader.load(file: configPath)
            let listening = state.withLock { state in
                defer { state = State(configuration: configuration, loadedAt: Date()) }
                return state.configuration.proxy.listen
            }
            if configuration.proxy.listen != listening {
                logger.warning(
                    "[proxy] listen changed: the TCP listener stays as it is until the daemon restarts",
                    metadata: ["event": "reload_needs_restart", "listen": "\(configuration.proxy.listen?.description ?? "none")"])
            }
            sessions.configure(configuration.sortedProfiles)
            logger.info("configuration reloaded", metadata: ["event": "reload", "profiles": "\(configuration.profiles.count)"])
        } catch {
            state.withLock { $0.lastReloadError = error.description }
            logger.error("configuration refused, keeping the one in force", metadata: ["event": "reload_refused", "error": "\(error)"])
            throw error
        }
    }

    /// Every profile's state, without secrets.
    func status() async -> StatusResponse {
        let snapshot = state.withLock { $0 }
        var profiles: [StatusResponse.Profile] = []
        for profile in snapshot.configuration.sortedProfiles {
            let isDefault = profile.name == snapshot.configuration.defaultProfile
            switch profile.credential {
            case .apiKey(let keySource):
                let credential = await loadKey(of: profile, from: keySource)
                var summary = StatusResponse.Profile(
                    name: profile.name, kind: profile.kind, isDefault: isDefault, state: credential.problem?.state ?? .ready,
                    source: keySource.summary, fingerprint: try? credential.get().fingerprint, message: credential.problem?.message)
                summary.proxy = proxyStatistics.counters(of: profile.name)
                profiles.append(summary)
            case .oauth(let settings):
                let session = sessions.status(of: profile.name)
                var message = session.message
                if session.state != .ready, let fallback = profile.fallback {
                    let why = session.state == .loginRequired ? "login required" : "token endpoint unavailable"
                    message = "serving fallback \(fallback): \(why)" + (session.message.map { " (\($0))" } ?? "")
                }
                var summary = StatusResponse.Profile(
                    name: profile.name, kind: profile.kind, isDefault: isDefault, state: session.state, source: "oauth:\(settings.clientID)",
                    fingerprint: session.fingerprint, message: message, refresh: session.refresh)
                summary.sdkProfile = sessions.sdkStatus(of: profile.name)
                summary.proxy = proxyStatistics.counters(of: profile.name)
                profiles.append(summary)
            }
        }
        return StatusResponse(
            version: claudeAuthVersion,
            defaultProfile: snapshot.configuration.defaultProfile,
            config: .init(
                path: configPath, exists: FileIO.exists(configPath), loadedAt: snapshot.loadedAt,
                lastReloadError: snapshot.lastReloadError),
            profiles: profiles,
            proxy: ProxyStatus(listen: proxyStatistics.listening, profile: snapshot.configuration.proxyProfile)
        )
    }

    /// Whether the configuration in force allows desktop sign-in prompts.
    var signInPrompts: Bool {
        state.withLock { $0.configuration.signInPrompts }
    }

    /// A one-line summary for the service manager's `STATUS=`.
    func summary() -> String {
        let configuration = state.withLock { $0.configuration }
        let count = configuration.profiles.count
        let noun = count == 1 ? "profile" : "profiles"
        return count == 0
            ? "serving, no profiles configured"
            : "serving \(count) \(noun), default \(configuration.defaultProfile)"
    }

    private func profile(named name: String?) throws(ServiceError) -> Profile {
        let configuration = state.withLock { $0.configuration }
        if let name {
            guard let profile = configuration.profiles[name] else {
                let known = configuration.sortedProfiles.map(\.name).joined(separator: ", ")
                throw ServiceError(
                    code: .unknownProfile,
                    message: "no profile named \"\(name)\" in \(configPath)"
                        + (known.isEmpty ? "" : "; configured: \(known)"),
                    profile: name
                )
            }
            return profile
        }
        guard let profile = configuration.profiles[configuration.defaultProfile] else {
            throw ServiceError(
                code: .missingAPIKey,
                message: "no credentials: set ANTHROPIC_API_KEY, or add a profile to \(configPath) "
                    + "and run `claude-auth set-key` (see README)"
            )
        }
        return profile
    }

    /// The profile's key: from memory, else from its source (a failure is not remembered, so it is retried).
    private func loadKey(of profile: Profile, from source: APIKeySource) async -> Result<Secret, CredentialProblem> {
        if let key = state.withLock({ $0.keys[profile.name] }) { return .success(key) }
        // File reads run on NIO's blocking pool, not on the two threads that serve every request.
        let result: Result<Secret, CredentialProblem>
        do {
            result = try await NIOThreadPool.singleton.runIfActive { [keyLoader] in keyLoader.load(profile: profile.name, from: source) }
        } catch {
            result = .failure(CredentialProblem(state: .unavailable, code: .internalError, message: "the daemon is stopping"))
        }
        if case .success(let key) = result {
            state.withLock { state in
                if state.configuration.profiles[profile.name] == profile { state.keys[profile.name] = key }
            }
        }
        return result
    }

    /// The kind's headers, with the profile's own added or overriding by case-insensitive name.
    private static func merge(_ base: [HeaderField], _ extra: [HeaderField]) -> [HeaderField] {
        var merged = base
        for field in extra {
            if let index = merged.firstIndex(where: { $0.name.lowercased() == field.name.lowercased() }) {
                merged[index].value = field.value
            } else {
                merged.append(field)
            }
        }
        return merged
    }
}

extension Result where Failure == CredentialProblem {
    /// The problem, when there is one.
    fileprivate var problem: CredentialProblem? {
        if case .failure(let problem) = self { return problem }
        return nil
    }
}
