import ClaudeAuthAPI
import ClaudeAuthCore
import NIOHTTP1

/// Maps socket API requests (DESIGN §3) onto the credential service.
struct APIRouter: Sendable {
    /// The largest request body accepted.
    static let maximumBodySize = 16 * 1024

    let credentials: CredentialService
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

    private func route(_ request: APIRequest) async throws(ServiceError) -> APIResponse {
        let profile = request.query["profile"]
        switch (request.method, request.path) {
        case (.GET, "/v1/health"):
            return .json(HealthResponse(version: claudeAuthVersion))
        case (.GET, "/v1/headers"):
            let credential = try credentials.credential(for: profile)
            return .json(
                HeadersResponse(
                    profile: credential.profile,
                    kind: credential.kind,
                    headers: Dictionary(credential.headers.map { ($0.name, $0.value) }) { $1 },
                    expiresAt: credential.expiresAt,
                    fingerprint: credential.secret.fingerprint
                ))
        case (.GET, "/v1/header"):
            let credential = try credentials.credential(for: profile)
            return .text(credential.headers.map { "\($0.name): \($0.value)\n" }.joined())
        case (.GET, "/v1/token"):
            return .text(try credentials.credential(for: profile).secret.unredacted + "\n")
        case (.GET, "/v1/status"):
            return .json(credentials.status())
        case (.PUT, "/v1/key"):
            guard let profile else { throw .invalidRequest("name the profile: PUT /v1/key?profile=NAME") }
            try credentials.storeKey(String(decoding: request.body, as: UTF8.self), for: profile)
            return .json(credentials.status().profiles.first { $0.name == profile })
        case (.POST, "/v1/reload"):
            do {
                try reload()
            } catch {
                throw ServiceError(code: .invalidConfig, message: "configuration refused, the previous one stays in force: \(error)")
            }
            return .json(credentials.status())
        case (.POST, "/v1/login"), (.POST, "/v1/refresh"), (.POST, "/v1/logout"):
            throw .invalidRequest("\(request.path) applies to oauth profiles, which this version of claude-authd does not support yet")
        case (_, "/v1/health"), (_, "/v1/headers"), (_, "/v1/header"), (_, "/v1/token"), (_, "/v1/status"), (_, "/v1/key"),
            (_, "/v1/reload"), (_, "/v1/login"), (_, "/v1/refresh"), (_, "/v1/logout"):
            throw .invalidRequest("\(request.method) is not allowed on \(request.path)")
        default:
            throw ServiceError(code: .notFound, message: "no such endpoint: \(request.path); see GET /v1/health")
        }
    }
}
