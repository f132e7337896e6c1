#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AsyncHTTPClient
import ClaudeAuthCore
import Logging
import NIOCore
import NIOHTTP1

/// Calls an authorization server's token, revocation and device authorization endpoints (RFC 6749 §4.1.3, §6;
/// RFC 7009; RFC 8628), where the profile configures them or its issuer's metadata names them.
///
/// Bodies are form- or JSON-encoded per profile, `client_id` is always sent, a client secret goes by HTTP Basic or
/// in the body, redirects are not followed, and answers are bounded in time and size.
struct TokenEndpointClient: Sendable {
    /// The HTTP client; it must not follow redirects.
    let http: HTTPClient
    /// Fills in the endpoints an issuer's metadata gives.
    let discovery: IssuerDiscovery

    /// A client whose issuers' metadata is kept under `stateDirectory`.
    init(http: HTTPClient, stateDirectory: String, logger: Logger) {
        self.http = http
        self.discovery = IssuerDiscovery(http: http, stateDirectory: stateDirectory, logger: logger)
    }

    /// The settings with every endpoint the configuration or the issuer's metadata gives.
    func resolve(_ settings: OAuthSettings) async -> Result<OAuthSettings, TokenEndpointFailure> {
        await discovery.resolve(settings)
    }

    /// Exchanges an authorization code for tokens.
    func exchange(code: String, verifier: Secret, redirectURI: String, state: Secret, settings: OAuthSettings, secret: Secret?) async
        -> Result<TokenSet, TokenEndpointFailure>
    {
        await tokens([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("code_verifier", verifier.unredacted), ("state", state.unredacted),
        ], settings: settings, secret: secret, timeout: settings.tokenTimeout)
    }

    /// Trades a refresh token for new tokens; `scope` is not sent, so the grant's scopes are kept. The request
    /// stays open up to the profile's refresh deadline: see ``OAuthSettings/refreshDeadline``.
    func refresh(_ refreshToken: Secret, settings: OAuthSettings, secret: Secret?) async -> Result<TokenSet, TokenEndpointFailure> {
        await tokens(
            [("grant_type", "refresh_token"), ("refresh_token", refreshToken.unredacted)], settings: settings, secret: secret,
            timeout: settings.refreshDeadline)
    }

    /// Asks the device authorization endpoint for a device code and a user code (RFC 8628 §3.1).
    func authorizeDevice(settings unresolved: OAuthSettings, secret: Secret?) async -> Result<DeviceAuthorization, TokenEndpointFailure> {
        let settings: OAuthSettings
        switch await resolve(unresolved) {
        case .success(let resolved): settings = resolved
        case .failure(let failure): return .failure(failure)
        }
        guard let url = settings.endpoints.deviceAuthorization else {
            return .failure(TokenEndpointFailure(
                kind: .permanent,
                message: "this profile has no device authorization endpoint: set device_authorization_url, or use the browser login"))
        }
        let fields = settings.scopes.isEmpty ? [] : [("scope", settings.scopes.joined(separator: " "))]
        switch await post(url, fields, settings: settings, secret: secret, timeout: settings.tokenTimeout, limit: DeviceAuthorization.maximumBodySize) {
        case .success(let answer): return DeviceAuthorization.parse(status: answer.status, body: answer.body)
        case .failure(let failure): return .failure(failure)
        }
    }

    /// Polls the token endpoint with a device code (RFC 8628 §3.4).
    func pollDevice(_ deviceCode: Secret, settings: OAuthSettings, secret: Secret?) async -> Result<TokenSet, TokenEndpointFailure> {
        await tokens(
            [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", deviceCode.unredacted)], settings: settings,
            secret: secret, timeout: settings.tokenTimeout)
    }

    /// Revokes a token at the revocation endpoint (RFC 7009); false when the profile has none.
    func revoke(_ token: Secret, hint: String, settings unresolved: OAuthSettings, secret: Secret?) async -> Result<Bool, TokenEndpointFailure> {
        let settings: OAuthSettings
        switch await resolve(unresolved) {
        case .success(let resolved): settings = resolved
        case .failure(let failure): return .failure(failure)
        }
        guard let url = settings.endpoints.revocation else { return .success(false) }
        switch await post(url, [("token", token.unredacted), ("token_type_hint", hint)], settings: settings, secret: secret, timeout: settings.tokenTimeout) {
        case .success(let answer) where (200..<300).contains(answer.status):
            return .success(true)
        case .success(let answer):
            return .failure(TokenEndpointFailure(kind: .transient, message: "the revocation endpoint answered \(answer.status)"))
        case .failure(let failure):
            return .failure(failure)
        }
    }

    private func tokens(_ fields: [(String, String)], settings unresolved: OAuthSettings, secret: Secret?, timeout: Int) async
        -> Result<TokenSet, TokenEndpointFailure>
    {
        let settings: OAuthSettings
        switch await resolve(unresolved) {
        case .success(let resolved): settings = resolved
        case .failure(let failure): return .failure(failure)
        }
        guard let url = settings.endpoints.token else {
            return .failure(TokenEndpointFailure(kind: .transient, message: "this profile has no token endpoint"))
        }
        switch await post(url, fields, settings: settings, secret: secret, timeout: timeout) {
        case .success(let answer):
            return TokenResponseParser.parse(status: answer.status, body: answer.body, retryAfter: answer.retryAfter, receivedAt: Date())
        case .failure(let failure):
            return .failure(failure)
        }
    }

    private struct Answer {
        var status: Int
        var body: [UInt8]
        var retryAfter: String?
    }

    /// POSTs the fields; `timeout` (seconds) bounds the whole call, connection attempts included, and `limit` the
    /// answer's size.
    private func post(
        _ url: String, _ fields: [(String, String)], settings: OAuthSettings, secret: Secret?, timeout: Int,
        limit: Int = TokenResponseParser.maximumBodySize
    ) async -> Result<Answer, TokenEndpointFailure> {
        var fields = fields + [("client_id", settings.clientID)]
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "accept", value: "application/json")
        if let secret {
            switch settings.clientAuthentication {
            case .basic:
                let credentials = "\(FormEncoding.encode(settings.clientID)):\(FormEncoding.encode(secret.unredacted))"
                request.headers.add(name: "authorization", value: "Basic \(Data(credentials.utf8).base64EncodedString())")
            case .body:
                fields.append(("client_secret", secret.unredacted))
            }
        }
        switch settings.tokenRequest {
        case .form:
            request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: FormEncoding.encode(fields)))
        case .json:
            request.headers.add(name: "content-type", value: "application/json")
            let object = Dictionary(fields) { $1 }
            guard let body = try? JSONEncoder().encode(object) else {
                return .failure(TokenEndpointFailure(kind: .transient, message: "cannot encode the token request"))
            }
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        request.trust(caFile: settings.caFile)
        do {
            let response = try await http.execute(request, timeout: .seconds(Int64(timeout)))
            let body = try await response.body.collect(upTo: limit)
            return .success(Answer(status: Int(response.status.code), body: Array(buffer: body), retryAfter: response.headers.first(name: "retry-after")))
        } catch is NIOTooManyBytesError {
            return .failure(TokenEndpointFailure(kind: .transient, message: "the answer of \(Self.origin(of: url)) is larger than \(limit) bytes"))
        } catch {
            return .failure(TokenEndpointFailure(kind: .transient, message: "cannot reach \(Self.origin(of: url)): \(Self.describe(error))"))
        }
    }

    /// Scheme, host and port of a URL: never its path or query.
    private static func origin(of url: String) -> String {
        guard let endpoint = EndpointURL(url) else { return "the token endpoint" }
        return "\(endpoint.scheme)://\(endpoint.host)" + (endpoint.port.map { ":\($0)" } ?? "")
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "no answer in time"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}

/// `application/x-www-form-urlencoded` (WHATWG URL, §5).
enum FormEncoding {
    /// Encodes name–value pairs.
    static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }

    /// Percent-encodes everything but unreserved characters; spaces become `+`.
    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                result.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: " "):
                result.append("+")
            default:
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
