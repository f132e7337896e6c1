import Crypto

/// A credential value whose textual forms are redacted, so it cannot reach a log or a message by accident.
///
/// Only ``unredacted`` gives the value, for the places that must send or store it.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The value itself.
    public let unredacted: String
    /// The first 12 hex digits of the value's SHA-256: enough to correlate, useless to steal.
    public let fingerprint: String

    /// Wraps a credential value.
    public init(_ value: String) {
        self.unredacted = value
        self.fingerprint = Fingerprint.of(value)
    }

    /// `Secret(<fingerprint>)`: never the value.
    public var description: String { "Secret(\(fingerprint))" }
    /// `Secret(<fingerprint>)`: never the value.
    public var debugDescription: String { description }
}

extension Secret: Codable {
    /// Decodes a secret from a bare string.
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the value as a bare string: only for the credential store.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(unredacted)
    }
}

/// SHA-256 digests rendered as lowercase hex.
public enum Fingerprint {
    /// The first 12 hex digits of the SHA-256 of `value` (DESIGN §3).
    public static func of(_ value: String) -> String {
        String(sha256Hex(value).prefix(12))
    }

    /// The whole SHA-256 of `value`, in hex.
    public static func sha256Hex(_ value: String) -> String {
        let digits: [Character] = Array("0123456789abcdef")
        var hex = ""
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(value.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return hex
    }
}
