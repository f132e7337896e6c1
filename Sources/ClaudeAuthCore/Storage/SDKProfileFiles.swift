#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

#if canImport(Glibc)
import Glibc
#endif

/// The official Anthropic SDKs' profile files that an `oauth` profile with `sdk_profile` owns:
/// `configs/NAME.json` and `credentials/NAME.json` under `$ANTHROPIC_CONFIG_DIR` (default `~/.config/anthropic`).
///
/// The configuration names no `client_id` and the credentials hold no refresh token, so the SDK re-reads the access
/// token the daemon serves and never refreshes on its own. Every file carries `"managed_by": "claude-authd"`; a file
/// without it is the user's and is never replaced.
public struct SDKProfileFiles: Sendable {
    /// What marks a file as the daemon's.
    static let marker = "claude-authd"
    /// The largest existing file read to check its marker.
    static let maximumFileSize = 64 * 1024

    /// The SDKs' configuration directory.
    public var directory: String

    /// Creates the files' home at `directory`.
    public init(directory: String) {
        self.directory = directory
    }

    /// `$ANTHROPIC_CONFIG_DIR`, else `~/.config/anthropic`, as the SDKs resolve it.
    public static func directory(environment: [String: String]) -> String {
        if let directory = environment["ANTHROPIC_CONFIG_DIR"], !directory.isEmpty { return directory }
        return DefaultPaths.home(environment) + "/.config/anthropic"
    }

    /// The configuration file of SDK profile `name`.
    public func configPath(_ name: String) -> String { "\(directory)/configs/\(name).json" }
    /// The credentials file of SDK profile `name`.
    public func credentialsPath(_ name: String) -> String { "\(directory)/credentials/\(name).json" }

    /// Writes both files of `name` for `token`, atomically, 0600 in 0700 directories; the credentials first, so a
    /// configuration the SDK can read always has a token beside it.
    public func write(_ name: String, token: Secret, expiresAt: Date?, baseURL: String, owner: String) throws(FileError) {
        let credentials = CredentialsFile(
            version: "1.0", type: "oauth_token", accessToken: token.unredacted,
            expiresAt: expiresAt.map { Int(clampingSeconds: $0.timeIntervalSince1970, .down) }, managedBy: Self.marker)
        let config = ConfigFile(
            version: "1.0", authentication: .init(type: "user_oauth"), baseURL: baseURL, managedBy: Self.marker, claudeAuthProfile: owner)
        try replace(credentialsPath(name), with: credentials)
        try replace(configPath(name), with: config)
    }

    /// Removes both files of `name`; a file the daemon did not write is left, and reported.
    public func remove(_ name: String) throws(FileError) {
        for path in [credentialsPath(name), configPath(name)] {
            guard let ours = try isOurs(path) else { continue }
            guard ours else { throw FileError(path: path, reason: .notOurs) }
            try FileIO.remove(path)
        }
    }

    private func replace(_ path: String, with value: some Encodable) throws(FileError) {
        guard try isOurs(path) ?? true else { throw FileError(path: path, reason: .notOurs) }
        try FileIO.ensurePrivateDirectory(FileIO.directoryName(of: path))
        let bytes: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            bytes = try encoder.encode(value)
        } catch {
            throw FileError(path: path, reason: .system(operation: "encode", errno: EINVAL))
        }
        try FileIO.writeAtomically(Array(bytes) + [UInt8(ascii: "\n")], to: path)
    }

    /// Whether the file at `path` was written by the daemon; nil when there is none.
    private func isOurs(_ path: String) throws(FileError) -> Bool? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw .system("stat", path)
        }
        guard info.st_mode & S_IFMT == S_IFREG, let bytes = try? FileIO.read(path, limit: Self.maximumFileSize),
            let marked = try? JSONDecoder().decode(Marked.self, from: Data(bytes))
        else { return false }
        return marked.managedBy == Self.marker
    }

    private struct Marked: Decodable {
        var managedBy: String?
        enum CodingKeys: String, CodingKey { case managedBy = "managed_by" }
    }

    private struct CredentialsFile: Encodable {
        var version: String
        var type: String
        var accessToken: String
        var expiresAt: Int?
        var managedBy: String
        enum CodingKeys: String, CodingKey {
            case version, type
            case accessToken = "access_token"
            case expiresAt = "expires_at"
            case managedBy = "managed_by"
        }
    }

    private struct ConfigFile: Encodable {
        struct Authentication: Encodable { var type: String }
        var version: String
        var authentication: Authentication
        var baseURL: String
        var managedBy: String
        var claudeAuthProfile: String
        enum CodingKeys: String, CodingKey {
            case version, authentication
            case baseURL = "base_url"
            case managedBy = "managed_by"
            case claudeAuthProfile = "claude_auth_profile"
        }
    }
}
