#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
import ClaudeAuthCore
import NIOHTTP1

/// Maps socket API requests (DESIGN §3) onto the credential service.
struct APIRouter: Sendable {
    /// The largest request body accepted.
    static let maximumBodySize = 16 * 1024

    let credentials: CredentialService
    let logins: LoginManager
    let tokenEndpoint: TokenEndpointClient
    /// Re-reads the configuration; called by `POST /v1/reload`.
    let reload: @Sendable () throws(ConfigurationError) -> Void

    @Sendable
    func respond(to request: APIRequest) async -> APIResponse {
        do {
            return try await route(request)
        } catch {
            return .error(error)
        }
    }

    /// The answer to a request that needs no waiting, given on the caller's thread (the event loop): health, and a
    /// credential held in memory that needs no refresh. Nil for every other request, which ``respond(to:)`` answers.
    func respondImmediately(to request: APIRequest) -> APIResponse? {
        guard request.method == .GET else { return nil }
        if request.path == "/v1/health" { return Self.health }
        // An invalid min_validity is left to `respond`, which refuses it.
        guard let form = CredentialForm(rawValue: request.path),
            case .success(let validity) = Result(catching: { () throws(ServiceError) in try minimumValidity(request) }),
            let credential = credentials.readyCredential(for: request.query["profile"], minimumValidity: validity)
        else { return nil }
        return form.response(credential)
    }

    private static let health = APIResponse.json(HealthResponse(version: claudeAuthVersion))

    /// The routes that answer with the credential served, each in its own form.
    private enum CredentialForm: String {
        case headers = "/v1/headers", header = "/v1/header", token = "/v1/token"

        func response(_ credential: ServedCredential) -> APIResponse {
            switch self {
            case .headers:
                .json(
                    HeadersResponse(
                        profile: credential.profile,
                        kind: credential.kind,
                        headers: Dictionary(credential.headers.map { ($0.name, $0.value) }) { $1 },
                        expiresAt: credential.expiresAt,
                        fingerprint: credential.secret.fingerprint
                    ))
            case .header: APIResponse(status: .ok, contentType: APIResponse.textType, body: Self.lines(credential.headers))
            case .token: .text(credential.secret.unredacted + "\n")
            }
        }

        /// `name: value` lines, built as bytes: this answer is the hot path.
        private static func lines(_ fields: [HeaderField]) -> [UInt8] {
            var text: [UInt8] = []
            for field in fields {
                text += field.name.utf8
                text += ": ".utf8
                text += field.value.utf8
                text.append(UInt8(ascii: "\n"))
            }
            return text
        }
    }

    private func route(_ request: APIRequest) async throws(ServiceError) -> APIResponse {
        let profile = request.query["profile"]
        if request.method == .GET, let form = CredentialForm(rawValue: request.path) {
            return form.response(try await credentials.credential(for: profile, minimumValidity: try minimumValidity(request)))
        }
        switch (request.method, request.path) {
        case (.GET, "/v1/health"):
            return Self.health
        case (.GET, "/v1/credential"):
            return .json(try await credential(request, profile: profile))
        case (.GET, "/v1/status"):
            return .json(await credentials.status())
        case (.PUT, "/v1/key"):
            guard let profile else { throw .invalidRequest("name the profile: PUT /v1/key?profile=NAME") }
            try credentials.storeKey(String(decoding: request.body, as: UTF8.self), for: profile)
            return .json(await credentials.status().profiles.first { $0.name == profile })
        case (.DELETE, "/v1/key"):
            guard let profile else { throw .invalidRequest("name the profile: DELETE /v1/key?profile=NAME") }
            try credentials.forgetKey(of: profile)
            return .json(ForgottenResponse(profile: profile))
        case (.POST, "/v1/reload"):
            do {
                try reload()
            } catch {
                throw ServiceError(code: .invalidConfig, message: "configuration refused, the previous one stays in force: \(error)")
            }
            return .json(await credentials.status())
        case (.POST, "/v1/login"):
            let body: LoginRequest = try decode(request.body, orEmpty: LoginRequest(profile: nil, mode: nil))
            let oauth = try credentials.oauthSettings(for: body.profile ?? profile)
            let device = body.mode.map { $0 == .device } ?? (oauth.settings.loginFlow == .device)
            let ticket =
                device
                ? try await logins.startDevice(profile: oauth.profile, settings: oauth.settings, clientSecret: oauth.clientSecret)
                : try await logins.start(profile: oauth.profile, settings: oauth.settings, clientSecret: oauth.clientSecret)
            return .json(
                LoginTicketResponse(
                    loginID: ticket.id, authorizeURL: ticket.authorizeURL, redirectURI: ticket.redirectURI, userCode: ticket.device?.userCode,
                    verificationURI: ticket.device?.verificationURI, deviceFlow: ticket.deviceFlowAvailable, expiresAt: ticket.expiresAt),
                status: .accepted)
        case (.GET, let path) where path.hasPrefix("/v1/login/") && !path.hasSuffix("/code"):
            let wait = min(max(Int(request.query["wait"] ?? "0") ?? 0, 0), 60)
            return .json(Self.status(try await logins.wait(String(path.dropFirst("/v1/login/".count)), seconds: wait)))
        case (.POST, let path) where path.hasPrefix("/v1/login/") && path.hasSuffix("/code"):
            let id = path.dropFirst("/v1/login/".count).dropLast("/code".count)
            let body: LoginCodeRequest = try decode(request.body, orEmpty: nil)
            return .json(Self.status(try await logins.submit(String(id), input: body.code)))
        case (.POST, "/v1/logout"):
            let oauth = try credentials.oauthSettings(for: profile)
            let held = try await credentials.sessions.forget(profile: oauth.profile, settings: oauth.settings)
            var revocationError: String?
            var revoked = false
            // The refresh token outlives the access token: revoke it when there is one, even after the access token expired.
            if let held {
                let token = held.refreshToken ?? held.accessToken
                switch await tokenEndpoint.revoke(token, hint: held.refreshToken == nil ? "access_token" : "refresh_token", settings: oauth.settings, secret: oauth.clientSecret) {
                case .success(let done): revoked = done
                case .failure(let failure): revocationError = failure.message
                }
            }
            return .json(LogoutResponse(profile: oauth.profile, revoked: revoked, revocationError: revocationError))
        case (.POST, "/v1/refresh"):
            return .json(try await refresh(request, profile: profile))
        case (.GET, "/v1/issuer"):
            return .json(try await issuer(request.query["url"]))
        case (_, "/v1/health"), (_, "/v1/headers"), (_, "/v1/header"), (_, "/v1/token"), (_, "/v1/credential"), (_, "/v1/status"), (_, "/v1/key"),
            (_, "/v1/reload"), (_, "/v1/login"), (_, "/v1/refresh"), (_, "/v1/logout"), (_, "/v1/login/"), (_, "/v1/issuer"):
            throw .invalidRequest("\(request.method) is not allowed on \(request.path)")
        default:
            throw ServiceError(code: .notFound, message: "no such endpoint: \(request.path); see GET /v1/health")
        }
    }

    /// `GET /v1/issuer?url=ISSUER`: reads and checks an issuer's metadata, as a profile with that issuer would,
    /// for `add-profile --oauth` to refuse an issuer that cannot be used before it writes anything.
    private func issuer(_ url: String?) async throws(ServiceError) -> IssuerResponse {
        guard let url, let endpoint = EndpointURL(url), endpoint.isAcceptableForSecrets, !url.contains("?") else {
            throw .invalidRequest("give the issuer as url=: an absolute https URL (plain http only to a loopback host) without query")
        }
        let probe = OAuthSettings(clientID: "", issuer: url, endpoints: OAuthEndpoints(), tokenTimeout: 10)
        switch await tokenEndpoint.resolve(probe) {
        case .success(let resolved):
            let found = resolved.endpoints
            return IssuerResponse(
                issuer: url, authorizeURL: found.authorize, tokenURL: found.token, revocationURL: found.revocation,
                deviceAuthorizationURL: found.deviceAuthorization)
        case .failure(let failure):
            throw ServiceError(code: .tokenEndpointUnavailable, message: failure.message)
        }
    }

    /// `POST /v1/refresh[?if_fingerprint=F]`: refreshes now, or only while the token served is still F (a client
    /// saw it rejected); the fingerprint may also come in the body, or the rejected token itself as `if_token`.
    private func refresh(_ request: APIRequest, profile: String?) async throws(ServiceError) -> RefreshResponse {
        let body: RefreshRequest = try decode(request.body, orEmpty: RefreshRequest())
        // The refresh reads the client secret itself; here only the profile is needed.
        let oauth = try credentials.oauthProfile(for: profile)
        let condition = request.query["if_fingerprint"] ?? body.ifFingerprint ?? body.ifToken.map { Secret($0).fingerprint }
        let outcome = await credentials.sessions.refresh(oauth.profile, trigger: .onDemand, ifFingerprint: condition)
        switch outcome {
        case .refreshed, .alreadyReplaced: break
        case .notStarted: throw credentials.sessions.whyNotRefreshed(oauth.profile)
        case .failed(let error): throw error
        }
        let served = try await credentials.credential(for: oauth.profile)
        return RefreshResponse(
            profile: oauth.profile, refreshed: outcome != .alreadyReplaced, fingerprint: served.secret.fingerprint, expiresAt: served.expiresAt)
    }

    /// `GET /v1/credential[?git_host=H]`: what the helpers answer with; a host outside the profile's `git_hosts` is
    /// not answered for.
    private func credential(_ request: APIRequest, profile: String?) async throws(ServiceError) -> CredentialResponse {
        let git = try credentials.gitSettings(for: profile)
        if let host = request.query["git_host"], !git.git.covers(host) {
            throw ServiceError(code: .notFound, message: "profile \(git.profile) does not answer for git host \(ServerText.excerpt(host, limit: 64))", profile: git.profile)
        }
        let served = try await credentials.credential(for: git.profile, minimumValidity: try minimumValidity(request))
        return CredentialResponse(
            profile: git.profile, servedProfile: served.profile, kind: served.kind, token: served.secret.unredacted, headers: served.headers,
            expiresAt: served.expiresAt, fingerprint: served.secret.fingerprint, gitUsername: git.git.username)
    }

    /// `min_validity=S`: the seconds the token served must stay valid.
    private func minimumValidity(_ request: APIRequest) throws(ServiceError) -> TimeInterval? {
        guard let text = request.query["min_validity"] else { return nil }
        guard let seconds = Int(text), (0...86400).contains(seconds) else {
            throw .invalidRequest("min_validity must be a number of seconds from 0 to 86400")
        }
        return TimeInterval(seconds)
    }

    private func decode<T: Decodable>(_ body: [UInt8], orEmpty empty: T?) throws(ServiceError) -> T {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }), let empty { return empty }
        do {
            return try JSONDecoder.api().decode(T.self, from: Data(body))
        } catch {
            throw .invalidRequest("the request body is not the JSON expected (\(T.self))")
        }
    }

    private static func status(_ outcome: LoginManager.Outcome) -> LoginStatusResponse {
        switch outcome {
        case .pending: LoginStatusResponse(state: .pending)
        case .succeeded: LoginStatusResponse(state: .succeeded)
        case .failed(let error): LoginStatusResponse(state: .failed, error: error)
        }
    }
}
