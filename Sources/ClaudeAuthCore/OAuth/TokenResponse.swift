#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Tokens issued by a token endpoint.
public struct TokenSet: Sendable, Equatable, Codable {
    /// The access token.
    public var accessToken: Secret
    /// The refresh token, if one was issued.
    public var refreshToken: Secret?
    /// When the access token expires, if the server said.
    public var expiresAt: Date?
    /// The granted scopes, if the server said.
    public var scopes: [String]?
    /// When the response was received.
    public var issuedAt: Date

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresAt = "expires_at"
        case scopes
        case issuedAt = "issued_at"
    }

    /// Creates a token set.
    public init(accessToken: Secret, refreshToken: Secret?, expiresAt: Date?, scopes: [String]?, issuedAt: Date) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.issuedAt = issuedAt
    }
}

extension TokenSet {
    /// The longest access or refresh token accepted: ample for any JWT, and small enough that a credential
    /// file always stays within ``CredentialStore/maximumFileSize``, so what was served can be read back.
    public static let maximumTokenLength = 128 * 1024
    /// The longest `scope` accepted, for the same reason.
    public static let maximumScopeLength = 16 * 1024
    /// The longest access-token lifetime accepted (ten years); a longer `expires_in` is refused as nonsense.
    public static let maximumLifetime: TimeInterval = 10 * 365 * 86400

    /// These tokens from a refresh, keeping `previous` when the server sent no new refresh token (RFC 6749 §6).
    public func keepingRefreshToken(_ previous: Secret) -> TokenSet {
        var tokens = self
        if tokens.refreshToken == nil { tokens.refreshToken = previous }
        return tokens
    }
}

/// Why a token endpoint call did not yield tokens.
public struct TokenEndpointFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// Whether trying again can help.
    public enum Kind: Sendable, Equatable {
        /// The grant is dead (`invalid_grant`, a 400 without a JSON body, …): a new login is needed.
        case permanent
        /// The server or the network failed for now: try again later.
        case transient
    }

    /// Whether trying again can help.
    public var kind: Kind
    /// The OAuth error code, when the server sent one.
    public var code: String?
    /// What happened, without secrets.
    public var message: String
    /// Seconds the server asked to wait (429 `Retry-After`).
    public var retryAfter: Int?

    /// Creates a failure.
    public init(kind: Kind, code: String? = nil, message: String, retryAfter: Int? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    /// The message.
    public var description: String { message }
}

/// Checks a token endpoint's answer (RFC 6749 §5) and classifies failures (DESIGN §6, §9).
public enum TokenResponseParser {
    /// The largest response body read.
    public static let maximumBodySize = 1 << 20
    /// OAuth error codes that a retry can cure.
    static let transientCodes: Set<String> = ["temporarily_unavailable", "server_error", "slow_down"]

    /// Parses a response received at `receivedAt`.
    public static func parse(status: Int, body: [UInt8], retryAfter: String?, receivedAt: Date) -> Result<TokenSet, TokenEndpointFailure> {
        let document = json(body)
        guard (200..<300).contains(status) else {
            return .failure(failure(status: status, document: document, body: body, retryAfter: retryAfter))
        }
        guard case .object(let fields)? = document else {
            return .failure(TokenEndpointFailure(kind: .transient, message: "the token endpoint answered \(status) with \(describe(body))"))
        }
        return tokens(fields, receivedAt: receivedAt).mapError {
            TokenEndpointFailure(kind: .transient, message: "the token endpoint's answer is invalid: \($0.message)")
        }
    }

    private static func tokens(_ fields: [String: JSONValue], receivedAt: Date) -> Result<TokenSet, TokenEndpointFailure> {
        guard let access = fields["access_token"] else { return invalid("access_token is missing") }
        guard case .string(let accessToken) = access, isTokenText(accessToken) else {
            return invalid("access_token must be a non-empty string of visible characters, not \(access.typeName)")
        }
        guard accessToken.utf8.count <= TokenSet.maximumTokenLength else { return tooLong("access_token", accessToken, limit: TokenSet.maximumTokenLength) }
        switch fields["token_type"] {
        case nil:
            break
        case .string(let type)? where type.lowercased() == "bearer":
            break
        case .string(let type)?:
            return invalid("token_type \"\(type.prefix(32))\" is not bearer")
        case let other?:
            return invalid("token_type must be a string, not \(other.typeName)")
        }
        var refreshToken: Secret?
        switch fields["refresh_token"] {
        case nil, .null?, .string("")?:
            break
        case .string(let token)? where isTokenText(token):
            guard token.utf8.count <= TokenSet.maximumTokenLength else { return tooLong("refresh_token", token, limit: TokenSet.maximumTokenLength) }
            refreshToken = Secret(token)
        case let other?:
            return invalid("refresh_token must be a string of visible characters, not \(other.typeName)")
        }
        var expiresAt: Date?
        switch fields["expires_in"] {
        case nil, .null?:
            break
        case .number(let seconds)?:
            guard seconds >= 0 else { return invalid("expires_in must be a non-negative number, not \(seconds)") }
            guard seconds <= TokenSet.maximumLifetime else { return absurdLifetime("\(seconds)") }
            expiresAt = receivedAt.addingTimeInterval(seconds)
        case .string(let text)?:
            // Some servers send the number as a string.
            guard let seconds = Int(text.prefix(32)), seconds >= 0 else {
                return invalid("expires_in must be a non-negative number, not the string \"\(ServerText.excerpt(text, limit: 32))\"")
            }
            guard TimeInterval(seconds) <= TokenSet.maximumLifetime else { return absurdLifetime(text) }
            expiresAt = receivedAt.addingTimeInterval(TimeInterval(seconds))
        case let other?:
            return invalid("expires_in must be a non-negative number, not \(other.typeName)")
        }
        var scopes: [String]?
        switch fields["scope"] {
        case nil, .null?:
            break
        case .string(let text)?:
            guard text.utf8.count <= TokenSet.maximumScopeLength else { return tooLong("scope", text, limit: TokenSet.maximumScopeLength) }
            scopes = text.split(separator: " ").map(String.init)
        case let other?:
            return invalid("scope must be a string, not \(other.typeName)")
        }
        return .success(
            TokenSet(
                accessToken: Secret(accessToken), refreshToken: refreshToken, expiresAt: expiresAt, scopes: scopes,
                issuedAt: receivedAt))
    }

    private static func failure(status: Int, document: JSONValue?, body: [UInt8], retryAfter: String?) -> TokenEndpointFailure {
        let error = oauthError(document)
        let code = error?.code
        let message = "the token endpoint answered \(status)\(error.map(\.detail) ?? " with \(describe(body))")"
        switch status {
        case 429:
            return TokenEndpointFailure(kind: .transient, code: code, message: message, retryAfter: retryAfter.flatMap { Int($0) })
        case 400, 401, 403:
            if let code, transientCodes.contains(code) {
                return TokenEndpointFailure(kind: .transient, code: code, message: message)
            }
            // A 400 without a JSON error (glewlwyd's answer to a dead refresh token) counts as invalid_grant.
            return TokenEndpointFailure(kind: .permanent, code: code ?? "invalid_grant", message: message)
        default:
            return TokenEndpointFailure(kind: .transient, code: code, message: message)
        }
    }

    /// The OAuth error a JSON answer carries (RFC 6749 §5.2): its code, at most 64 characters, and `: error
    /// (description)` for a message, each part a bounded excerpt.
    static func oauthError(_ document: JSONValue?) -> (code: String, detail: String)? {
        guard case .object(let fields)? = document, case .string(let error)? = fields["error"] else { return nil }
        var detail = ": \(ServerText.excerpt(error, limit: 200))"
        if case .string(let description)? = fields["error_description"] { detail += " (\(ServerText.excerpt(description, limit: 200)))" }
        return (String(error.prefix(64)), detail)
    }

    private static func tooLong(_ field: String, _ text: String, limit: Int) -> Result<TokenSet, TokenEndpointFailure> {
        invalid("\(field) is \(text.utf8.count) bytes, more than the \(limit / 1024) KiB this daemon stores")
    }

    private static func absurdLifetime(_ text: String) -> Result<TokenSet, TokenEndpointFailure> {
        invalid("expires_in \(ServerText.excerpt(text, limit: 32)) s is more than \(Int(TokenSet.maximumLifetime / 86400)) days: refused")
    }

    private static func invalid(_ message: String) -> Result<TokenSet, TokenEndpointFailure> {
        .failure(TokenEndpointFailure(kind: .transient, message: message))
    }

    private static func json(_ body: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(body))
    }

    /// What a body that is not the JSON expected looks like, without quoting it.
    private static func describe(_ body: [UInt8]) -> String {
        let start = body.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if start.isEmpty { return "an empty body" }
        if start.first == UInt8(ascii: "<") { return "HTML, not JSON (\(body.count) bytes)" }
        if start.first == UInt8(ascii: "{") || start.first == UInt8(ascii: "[") { return "malformed or truncated JSON (\(body.count) bytes)" }
        return "something that is not JSON (\(body.count) bytes)"
    }

    private static func isTokenText(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
