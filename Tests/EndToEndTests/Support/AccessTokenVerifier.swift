import Crypto
import Foundation

/// Checks glewlwyd's access tokens as a resource server does, without asking glewlwyd: an ES256 signature by the key
/// the server publishes, and an expiry after the moment the request arrived. A check that runs later than the request,
/// on a loaded machine, still judges the token as it was when it was presented.
struct AccessTokenVerifier: Sendable {
    private let key: P256.Signing.PublicKey

    /// Reads the server's signing key from its JWKS document.
    init(_ server: GlewlwydServer) throws {
        let url = server.issuer + "/jwks"
        let result = try runCommand(which("curl")!, ["-sS", "--max-time", "30", url], environment: [:], timeout: 60)
        guard
            let document = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            let jwk = (document["keys"] as? [[String: Any]])?.first(where: { $0["crv"] as? String == "P-256" }),
            let x = (jwk["x"] as? String).flatMap(Self.base64URL), let y = (jwk["y"] as? String).flatMap(Self.base64URL),
            let key = try? P256.Signing.PublicKey(rawRepresentation: x + y)
        else { throw HarnessError(description: "no P-256 key in \(url): \(result.stdout) \(result.stderr)") }
        self.key = key
    }

    /// Whether `token` is signed by the server and had not expired at `arrival`.
    func accepts(_ token: String, at arrival: Date) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Self.base64URL(parts[1]), let signature = Self.base64URL(parts[2]),
            let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature),
            key.isValidSignature(ecdsa, for: Data(parts[0].utf8) + Data(".".utf8) + Data(parts[1].utf8)),
            let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
            let expiry = claims["exp"] as? Double
        else { return false }
        return arrival.timeIntervalSince1970 < expiry
    }

    private static func base64URL(_ text: some StringProtocol) -> Data? {
        var base64 = text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : String($0) }.joined()
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
