#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

/// `claude-auth kube-credential`: an `ExecCredential` for kubectl's exec credential plugins, whose
/// `expirationTimestamp` tells kubectl how long to cache the token.
public enum KubeCredential {
    /// The API version kubectl speaks when it does not say (`KUBERNETES_EXEC_INFO`).
    public static let defaultAPIVersion = "client.authentication.k8s.io/v1"

    /// The API version asked for in `KUBERNETES_EXEC_INFO`, else ``defaultAPIVersion``.
    public static func apiVersion(environment: [String: String]) -> String {
        struct ExecInfo: Decodable { var apiVersion: String? }
        guard let info = environment["KUBERNETES_EXEC_INFO"], let decoded = try? JSONDecoder().decode(ExecInfo.self, from: Data(info.utf8)),
            let version = decoded.apiVersion, version.hasPrefix("client.authentication.k8s.io/")
        else { return defaultAPIVersion }
        return version
    }

    /// The `ExecCredential` JSON for `credential`.
    public static func execCredential(_ credential: CredentialResponse, apiVersion: String) throws(ClientError) -> [UInt8] {
        struct Status: Encodable {
            var token: String
            var expirationTimestamp: String?
        }
        struct ExecCredential: Encodable {
            var apiVersion: String
            var kind = "ExecCredential"
            var status: Status
        }
        let expiry = credential.expiresAt.map { $0.formatted(.iso8601) }
        let value = ExecCredential(apiVersion: apiVersion, status: Status(token: credential.token, expirationTimestamp: expiry))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
        } catch {
            throw ClientError(exitCode: 70, message: "cannot encode the ExecCredential: \(error)")
        }
    }
}
