#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An authorization server's metadata (OpenID Connect Discovery 1.0, RFC 8414), checked field by field: the
/// document must name the issuer configured, and every endpoint it gives must be one the daemon may send secrets to.
public enum IssuerMetadata {
    /// The largest document read.
    public static let maximumBodySize = 256 * 1024

    /// Why a document was refused.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, without quoting more than an excerpt of the document.
        public var message: String

        /// The message.
        public var description: String { message }
    }

    /// The documents to try, in order: OpenID Connect's `ISSUER/.well-known/openid-configuration`, then RFC 8414's
    /// `ORIGIN/.well-known/oauth-authorization-server/PATH`.
    public static func documentURLs(for issuer: String) -> [String] {
        guard let url = EndpointURL(issuer) else { return [] }
        let path = trimmed(url.pathAndQuery)
        return [trimmed(issuer) + "/.well-known/openid-configuration", url.origin + "/.well-known/oauth-authorization-server" + path]
    }

    /// The endpoints a document gives, if it is the metadata of `issuer`.
    public static func parse(_ body: [UInt8], issuer: String) -> Result<OAuthEndpoints, Failure> {
        guard body.count <= maximumBodySize else { return refuse("the document is larger than \(maximumBodySize / 1024) KiB") }
        guard case .object(let fields)? = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else {
            return refuse("the document is not a JSON object (\(body.count) bytes)")
        }
        guard case .string(let named)? = fields["issuer"] else { return refuse("the document names no issuer") }
        // RFC 8414 §3.3: the issuer must be the one asked for; only a trailing slash is forgiven.
        guard trimmed(named) == trimmed(issuer) else {
            return refuse("the document is for the issuer \"\(ServerText.excerpt(named, limit: 200))\", not \(issuer)")
        }
        var endpoints = OAuthEndpoints()
        for (key, keyPath) in keys {
            switch fields[key] {
            case nil, .null?:
                continue
            case .string(let text)? where EndpointURL(text)?.isAcceptableForSecrets == true:
                endpoints[keyPath: keyPath] = text
            case .string(let text)?:
                return refuse("\(key) \"\(ServerText.excerpt(text, limit: 200))\" is not an https URL (plain http only to a loopback host)")
            case let other?:
                return refuse("\(key) must be a string, not \(other.typeName)")
            }
        }
        guard endpoints.token != nil else { return refuse("the document gives no token_endpoint") }
        return .success(endpoints)
    }

    /// A document holding what the daemon uses of `endpoints`, which ``parse(_:issuer:)`` reads back: what is kept
    /// so that a restart with the issuer unreachable still serves and refreshes.
    public static func document(_ endpoints: OAuthEndpoints, issuer: String) -> [UInt8] {
        var fields = ["issuer": issuer]
        for (key, keyPath) in keys {
            if let value = endpoints[keyPath: keyPath] { fields[key] = value }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(fields)).map { Array($0) } ?? []
    }

    private static var keys: [(String, WritableKeyPath<OAuthEndpoints, String?>)] {
        [
            ("authorization_endpoint", \.authorize), ("token_endpoint", \.token), ("revocation_endpoint", \.revocation),
            ("device_authorization_endpoint", \.deviceAuthorization),
        ]
    }

    private static func trimmed(_ text: String) -> String {
        text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    private static func refuse(_ message: String) -> Result<OAuthEndpoints, Failure> {
        .failure(Failure(message: message))
    }
}
