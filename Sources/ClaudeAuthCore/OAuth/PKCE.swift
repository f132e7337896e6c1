#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Crypto

/// The random values of one authorization request: PKCE verifier and challenge (S256), state and nonce (DESIGN §7).
public struct AuthorizationSecrets: Sendable {
    /// The code verifier: 32 bytes from the system CSPRNG, base64url (43 characters).
    public let verifier: Secret
    /// `base64url(SHA-256(verifier))`.
    public let challenge: String
    /// An independent random value bound to this request.
    public let state: Secret
    /// Sent when `openid` is requested; independent of the others.
    public let nonce: Secret

    /// Draws fresh values from the system CSPRNG.
    public init() {
        var generator = SystemRandomNumberGenerator()
        verifier = Secret(Self.randomToken(using: &generator))
        challenge = Self.challenge(for: verifier.unredacted)
        state = Secret(Self.randomToken(using: &generator))
        nonce = Secret(Self.randomToken(using: &generator))
    }

    /// The S256 challenge of a verifier.
    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(Array(SHA256.hash(data: Array(verifier.utf8))))
    }

    private static func randomToken(using generator: inout SystemRandomNumberGenerator) -> String {
        Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}

/// Base64url without padding (RFC 4648 §5).
public enum Base64URL {
    /// Encodes bytes.
    public static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = String(text.compactMap { character -> Character? in
            switch character {
            case "+": "-"
            case "/": "_"
            case "=": nil
            default: character
            }
        })
        return text
    }
}

/// Comparison that takes the same time whatever the inputs share, for state values.
public enum ConstantTime {
    /// Whether `a` and `b` are equal, looking at every byte of the longer one.
    public static func equals(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
        for index in 0..<max(left.count, right.count) {
            let x = index < left.count ? left[index] : 0
            let y = index < right.count ? right[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
