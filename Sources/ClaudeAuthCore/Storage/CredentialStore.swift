#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

#if canImport(Glibc)
import Glibc
#endif

/// What a stored credential belongs to; its SHA-256 names the file, so two accounts never collide.
public struct CredentialIdentity: Sendable, Hashable, Codable {
    /// The canonical text hashed into the file name.
    public var canonical: String

    /// The identity of a key stored for an `api-key` profile.
    public static func apiKey(profile: String) -> CredentialIdentity {
        CredentialIdentity(canonical: "api-key\nprofile=\(profile)")
    }
}

/// A credential as it is persisted.
public struct StoredCredential: Sendable, Equatable, Codable {
    /// The format version.
    public var version = 1
    /// The identity this belongs to; a file whose identity does not match its name is refused.
    public var identity: CredentialIdentity
    /// The profile that stored it, for people reading the directory.
    public var profile: String
    /// The API key, for `api-key` profiles.
    public var apiKey: Secret?
    /// The tokens, for `oauth` profiles.
    public var tokens: TokenSet?
    /// Why the grant is dead, for an `oauth` profile that needs a new login; kept so a restart does not retry it.
    public var loginRequired: String?
    /// When it was written.
    public var storedAt: Date

    enum CodingKeys: String, CodingKey {
        case version, identity, profile, tokens
        case apiKey = "api_key"
        case loginRequired = "login_required"
        case storedAt = "stored_at"
    }

    /// Creates a stored credential.
    public init(
        identity: CredentialIdentity, profile: String, apiKey: Secret? = nil, tokens: TokenSet? = nil, loginRequired: String? = nil,
        storedAt: Date
    ) {
        self.identity = identity
        self.profile = profile
        self.apiKey = apiKey
        self.tokens = tokens
        self.loginRequired = loginRequired
        self.storedAt = storedAt
    }
}

/// Why a stored credential could not be read.
public enum CredentialStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or its directory is unsafe or unreadable.
    case file(FileError)
    /// The file held no valid credential; it was moved aside to `movedTo`.
    case corrupt(path: String, movedTo: String)

    /// A sentence saying what happened and what to do.
    public var description: String {
        switch self {
        case .file(let error):
            "\(error)"
        case .corrupt(let path, let movedTo):
            "\(path) was corrupt and was moved aside to \(movedTo); store the credential again"
        }
    }
}

/// The credentials directory: `<state>/credentials/<sha256 of identity>.json`, 0600 files in a 0700 directory.
public struct CredentialStore: Sendable {
    /// The largest credential file written or read: one limit on both sides, so whatever was stored can be read
    /// back (the token endpoint's answers are bounded by ``TokenSet/maximumTokenLength`` to fit).
    public static let maximumFileSize = 1 << 20

    /// The directory holding the files.
    public let directory: String

    /// A store under a state directory.
    public init(stateDirectory: String) {
        self.directory = stateDirectory + "/credentials"
    }

    /// The file that holds `identity`'s credential.
    public func path(for identity: CredentialIdentity) -> String {
        "\(directory)/\(Fingerprint.sha256Hex(identity.canonical)).json"
    }

    /// Reads the credential of `identity`; nil when none is stored. A corrupt file is moved aside.
    public func load(_ identity: CredentialIdentity) throws(CredentialStoreError) -> StoredCredential? {
        let path = path(for: identity)
        let bytes: [UInt8]
        do {
            guard let read = try readPrivate(path) else { return nil }
            bytes = read
        } catch {
            throw .file(error)
        }
        guard let credential = Self.decode(bytes, as: identity) else {
            let aside: String
            do {
                aside = try FileIO.moveAside(path, suffix: "corrupt-\(Int(clampingSeconds: Date().timeIntervalSince1970))")
            } catch {
                throw .file(error)
            }
            throw .corrupt(path: path, movedTo: aside)
        }
        return credential
    }

    /// The credential of `identity` in a file's bytes; nil when they hold none, or another identity's.
    public static func decode(_ bytes: [UInt8], as identity: CredentialIdentity) -> StoredCredential? {
        guard var credential = try? JSONDecoder.api().decode(StoredCredential.self, from: Data(bytes)), credential.identity == identity else {
            return nil
        }
        credential.tokens = credential.tokens?.withTrustedExpiry
        return credential
    }

    /// A credential's file content; refused when it would exceed ``maximumFileSize``.
    public static func encode(_ credential: StoredCredential) throws(FileError) -> [UInt8] {
        let data: Data
        do {
            data = try JSONEncoder.api().encode(credential)
        } catch {
            throw FileError.system("encode", credential.profile, errno: EINVAL)
        }
        guard data.count <= maximumFileSize else { throw FileError(path: credential.profile, reason: .tooLarge(limit: maximumFileSize)) }
        return Array(data)
    }

    /// Writes a credential atomically and durably.
    public func save(_ credential: StoredCredential) throws(FileError) {
        try FileIO.ensurePrivateDirectory(directory)
        let path = path(for: credential.identity)
        let bytes: [UInt8]
        do {
            bytes = try Self.encode(credential)
        } catch {
            throw FileError(path: path, reason: error.reason)
        }
        try FileIO.writeAtomically(bytes, to: path)
    }

    /// Deletes the credential of `identity`, if any.
    public func delete(_ identity: CredentialIdentity) throws(FileError) {
        try FileIO.remove(path(for: identity))
    }

    private func readPrivate(_ path: String) throws(FileError) -> [UInt8]? {
        guard FileIO.exists(directory) else { return nil }
        try FileIO.ensurePrivateDirectory(directory)
        return try FileIO.readPrivate(path, limit: Self.maximumFileSize)
    }
}

extension TokenSet {
    /// These tokens, with an expiry beyond ``maximumLifetime`` (a file written by hand, or by an older version
    /// that trusted any `expires_in`) taken as already passed: the next use refreshes instead of serving a token
    /// for centuries.
    var withTrustedExpiry: TokenSet {
        guard let expiresAt, expiresAt.timeIntervalSince(issuedAt) > Self.maximumLifetime else { return self }
        var tokens = self
        tokens.expiresAt = issuedAt
        return tokens
    }
}
