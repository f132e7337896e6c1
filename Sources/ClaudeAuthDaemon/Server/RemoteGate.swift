import ClaudeAuthAPI
import ClaudeAuthCore
import Logging
import NIOHTTP1

/// What the remote socket serves, for a host reached over `ssh -R`: `health`, `header`, `headers` and `token` (and
/// the proxy) for profiles with `remote = true`. Everything else gets 403 `forbidden` and an `EVENT=remote_refused`
/// line, so nothing on the remote host can log in, log out, store a key or reload.
struct RemoteGate: Sendable {
    let router: APIRouter
    let credentials: CredentialService
    let logger: Logger

    /// The requests served, by path; each is a `GET`.
    static let served: Set<String> = ["/v1/health", "/v1/header", "/v1/headers", "/v1/token"]

    @Sendable
    func respond(to request: APIRequest) async -> APIResponse {
        do throws(ServiceError) {
            guard request.method == .GET, Self.served.contains(request.path) else {
                throw refused(
                    "\(request.method) \(ServerText.excerpt(request.path, limit: 64)) is not served on the remote socket: run it on the machine the daemon runs on")
            }
            if request.path != "/v1/health" {
                try admit(profile: try credentials.profileName(request.query["profile"]), what: request.path)
            }
        } catch {
            return .error(error)
        }
        return await router.respond(to: request)
    }

    /// What ``APIRouter/respondImmediately(to:)`` answers, for the requests served here and their profiles; nil
    /// sends the rest to ``respond(to:)``, which refuses what it must and logs it.
    func respondImmediately(to request: APIRequest) -> APIResponse? {
        guard request.method == .GET, Self.served.contains(request.path) else { return nil }
        if request.path != "/v1/health" {
            guard let profile = try? credentials.profileName(request.query["profile"]), credentials.isRemote(profile) else { return nil }
        }
        return router.respondImmediately(to: request)
    }

    /// Throws unless `profile` has `remote = true`.
    func admit(profile: String, what: String) throws(ServiceError) {
        guard credentials.isRemote(profile) else {
            throw refused("profile \"\(profile)\" is not served on the remote socket: mark it remote = true on the daemon's machine")
        }
    }

    private func refused(_ reason: String) -> ServiceError {
        logger.warning("refused a request on the remote socket", metadata: ["event": "remote_refused", "reason": "\(reason)"])
        return ServiceError(code: .forbidden, message: reason)
    }
}
