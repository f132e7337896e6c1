#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

/// `claude-auth git-credential get|store|erase`: git's credential helper protocol (`git help credential`).
///
/// `get` answers with the profile's user name, token and its expiry; `erase` (git saw the token rejected) is a
/// fingerprint-checked refresh; `store` does nothing. Whatever goes wrong, the helper prints nothing and exits 0,
/// so git goes on to its next helper; a line on stderr says why, unless the profile does not cover the host.
public enum GitCredential {
    /// How long a token handed to git stays valid at least: git keeps it for every request of one command.
    public static let minimumValidity = 60

    /// What git asks of a helper.
    public enum Operation: String, Sendable, CaseIterable {
        case get, store, erase
    }

    /// The attributes git sends: `key=value` lines up to a blank line or the end.
    public static func attributes(_ input: [UInt8]) -> [String: String] {
        var attributes: [String: String] = [:]
        // By bytes: as Characters, "\r\n" is one, which a split on "\n" would not see.
        for bytes in input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let line = bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes
            if line.isEmpty { break }
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            attributes[String(decoding: line[..<equals], as: UTF8.self)] = String(decoding: line[(equals + 1)...], as: UTF8.self)
        }
        return attributes
    }

    /// The answer to `get`: user name, password and, for an expiring token, `password_expiry_utc`.
    public static func answer(_ credential: CredentialResponse) -> String {
        var lines = ["username=\(credential.gitUsername)", "password=\(credential.token)"]
        if let expiresAt = credential.expiresAt {
            lines.append("password_expiry_utc=\(Int(clampingSeconds: expiresAt.timeIntervalSince1970, .down))")
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// Runs `operation` on git's `input`; returns what goes to stdout and, if anything, a line for stderr.
    public static func run(_ operation: Operation, input: [UInt8], client: () throws(ClientError) -> DaemonClient, profile: String?)
        -> (output: String, diagnostic: String?)
    {
        let attributes = attributes(input)
        do {
            switch operation {
            case .get:
                // A credential holds no newline, so it cannot smuggle other attributes into git's parser.
                let credential = try client().credential(profile: profile, minimumValidity: minimumValidity, gitHost: attributes["host"])
                guard !(credential.token + credential.gitUsername).contains(where: \.isNewline) else { return ("", "claude-auth: the credential holds a newline") }
                return (answer(credential), nil)
            case .erase:
                guard let rejected = attributes["password"], !rejected.isEmpty else { return ("", nil) }
                _ = try client().refresh(profile: profile, condition: RefreshRequest(ifToken: rejected))
                return ("", nil)
            case .store:
                return ("", nil)
            }
        } catch {
            // Not this profile's host, or not a profile that refreshes: git is better off asking elsewhere, quietly.
            if error.code == .notFound || (operation == .erase && error.code == .invalidRequest) { return ("", nil) }
            return ("", "claude-auth: git-credential \(operation.rawValue): \(error.message)\n")
        }
    }
}
