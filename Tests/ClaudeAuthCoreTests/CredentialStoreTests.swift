import Foundation
import Testing

@testable import ClaudeAuthCore

@Suite("CredentialStore and FileIO")
struct CredentialStoreTests {
    let state: String
    let store: CredentialStore

    init() throws {
        state = "/tmp/ca-store-" + UUID().uuidString.prefix(8)
        store = CredentialStore(stateDirectory: state)
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    @Test("round trip: a 0600 file named by the identity's SHA-256 in a 0700 directory")
    func roundTrip() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let identity = CredentialIdentity.apiKey(profile: "api")
        #expect(try store.load(identity) == nil)
        let credential = StoredCredential(identity: identity, profile: "api", apiKey: Secret("sk-1"), storedAt: Date(timeIntervalSince1970: 1_700_000_000))
        try store.save(credential)
        #expect(try store.load(identity) == credential)
        let path = store.path(for: identity)
        #expect(path == state + "/credentials/" + Fingerprint.sha256Hex("api-key\nprofile=api") + ".json")
        #expect(try mode(path) == 0o600)
        #expect(try mode(state + "/credentials") == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: state + "/credentials") == [path.split(separator: "/").last.map(String.init)!])
        #expect(store.path(for: .apiKey(profile: "other")) != path)
        try store.delete(identity)
        #expect(try store.load(identity) == nil)
    }

    @Test("a corrupt file is moved aside and reported; the next save works")
    func corrupt() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let identity = CredentialIdentity.apiKey(profile: "api")
        try store.save(StoredCredential(identity: identity, profile: "api", apiKey: Secret("sk-1"), storedAt: Date()))
        let path = store.path(for: identity)
        try Data("{\"version\":1,\"ident".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try store.load(identity)
        } throws: { error in
            guard case .corrupt(let reported, let movedTo)? = error as? CredentialStoreError else { return false }
            return reported == path && FileManager.default.fileExists(atPath: movedTo) && movedTo.hasPrefix(path + ".corrupt-")
        }
        #expect(try store.load(identity) == nil)
        try store.save(StoredCredential(identity: identity, profile: "api", apiKey: Secret("sk-2"), storedAt: Date()))
        #expect(try store.load(identity)?.apiKey == Secret("sk-2"))
    }

    @Test("corrupt files moved aside in the same second keep every copy")
    func corruptTwice() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let identity = CredentialIdentity.apiKey(profile: "api")
        try store.save(StoredCredential(identity: identity, profile: "api", apiKey: Secret("sk-1"), storedAt: Date()))
        let path = store.path(for: identity)
        var asides: [String] = []
        for copy in ["first", "second", "third"] {
            try Data(copy.utf8).write(to: URL(fileURLWithPath: path))
            #expect(chmod(path, 0o600) == 0)
            do {
                _ = try store.load(identity)
            } catch .corrupt(_, let movedTo) {
                asides.append(movedTo)
            }
        }
        #expect(Set(asides).count == 3)
        #expect(try asides.map { try String(contentsOfFile: $0, encoding: .utf8) } == ["first", "second", "third"])
    }

    @Test("a credential at the size limit is stored and read back; a larger one is refused before it is written")
    func sizeLimit() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let identity = CredentialIdentity(canonical: "oauth\ntoken_url=https://idp/token\nclient_id=c\nscopes=")
        let large = String(repeating: "t", count: TokenSet.maximumTokenLength)
        let tokens = TokenSet(
            accessToken: Secret(large), refreshToken: Secret(large), expiresAt: Date(timeIntervalSince1970: 1_900_000_000),
            scopes: [String(repeating: "s", count: TokenSet.maximumScopeLength)], issuedAt: Date(timeIntervalSince1970: 1_800_000_000))
        let credential = StoredCredential(identity: identity, profile: "work", tokens: tokens, storedAt: Date(timeIntervalSince1970: 1_800_000_000))
        try store.save(credential)
        #expect(try FileManager.default.attributesOfItem(atPath: store.path(for: identity))[.size] as? Int ?? 0 > 256 * 1024)
        #expect(try store.load(identity) == credential)

        let tooLarge = StoredCredential(identity: identity, profile: "work", apiKey: Secret(String(repeating: "k", count: CredentialStore.maximumFileSize)), storedAt: Date())
        #expect(throws: FileError(path: store.path(for: identity), reason: .tooLarge(limit: CredentialStore.maximumFileSize))) {
            try store.save(tooLarge)
        }
        #expect(try store.load(identity) == credential)
    }

    @Test("a stored expiry beyond ten years counts as passed, so the refresh token is used instead of serving it for ever")
    func absurdStoredExpiry() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let identity = CredentialIdentity(canonical: "oauth\nabsurd")
        let issued = Date(timeIntervalSince1970: 1_800_000_000)
        let tokens = TokenSet(accessToken: Secret("at"), refreshToken: Secret("rt"), expiresAt: issued.addingTimeInterval(9.2e18), scopes: nil, issuedAt: issued)
        try store.save(StoredCredential(identity: identity, profile: "work", tokens: tokens, storedAt: issued))
        let loaded = try #require(try store.load(identity)?.tokens)
        #expect(loaded.expiresAt == issued)
        #expect(loaded.refreshToken == Secret("rt"))
    }

    @Test("a FIFO where a file is expected is refused at once, not waited on")
    func fifo() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        try FileIO.ensurePrivateDirectory(state)
        let path = state + "/key"
        #expect(mkfifo(path, 0o600) == 0)
        #expect(throws: FileError(path: path, reason: .wrongType)) { try FileIO.readPrivate(path, limit: 1024) }
        #expect(throws: FileError(path: path, reason: .wrongType)) { try FileIO.read(path, limit: 1024) }
        let identity = CredentialIdentity.apiKey(profile: "api")
        try FileIO.ensurePrivateDirectory(store.directory)
        #expect(mkfifo(store.path(for: identity), 0o600) == 0)
        #expect(throws: CredentialStoreError.file(FileError(path: store.path(for: identity), reason: .wrongType))) { try store.load(identity) }
    }

    @Test("a file stored under another identity's name is refused as corrupt")
    func identityMismatch() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let other = StoredCredential(identity: .apiKey(profile: "b"), profile: "b", apiKey: Secret("sk-b"), storedAt: Date())
        try store.save(other)
        try FileManager.default.moveItem(atPath: store.path(for: other.identity), toPath: store.path(for: .apiKey(profile: "a")))
        #expect(throws: CredentialStoreError.self) { try store.load(.apiKey(profile: "a")) }
    }

    @Test("lax permissions on the file or the directory are refused, never used")
    func laxPermissions() throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let identity = CredentialIdentity.apiKey(profile: "api")
        try store.save(StoredCredential(identity: identity, profile: "api", apiKey: Secret("sk-1"), storedAt: Date()))
        chmod(store.path(for: identity), 0o640)
        #expect(throws: CredentialStoreError.file(FileError(path: store.path(for: identity), reason: .permissionsTooOpen(mode: 0o100640)))) {
            try store.load(identity)
        }
        chmod(store.path(for: identity), 0o600)
        chmod(store.directory, 0o755)
        #expect(throws: CredentialStoreError.self) { try store.load(identity) }
        #expect(throws: FileError.self) {
            try store.save(StoredCredential(identity: identity, profile: "api", apiKey: Secret("sk-2"), storedAt: Date()))
        }
    }

    @Test("an atomic write leaves no temporary file and replaces the whole content")
    func atomicWrite() throws {
        let directory = "/tmp/ca-atomic-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileIO.ensurePrivateDirectory(directory)
        try FileIO.writeAtomically(Array("first, longer content".utf8), to: directory + "/f")
        try FileIO.writeAtomically(Array("second".utf8), to: directory + "/f")
        #expect(try FileIO.readPrivate(directory + "/f", limit: 100) == Array("second".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["f"])
        #expect(throws: FileError(path: directory + "/f", reason: .tooLarge(limit: 3))) {
            try FileIO.readPrivate(directory + "/f", limit: 3)
        }
    }
}

@Suite("Secret")
struct SecretTests {
    @Test("its textual forms carry only the fingerprint")
    func redacted() {
        let secret = Secret("sk-ant-api03-abc")
        #expect(secret.fingerprint == String(Fingerprint.sha256Hex("sk-ant-api03-abc").prefix(12)))
        #expect("\(secret)" == "Secret(\(secret.fingerprint))")
        #expect(String(reflecting: secret) == "Secret(\(secret.fingerprint))")
        #expect(!"\([secret])".contains("abc"))
    }

    @Test("SHA-256 of a known value")
    func knownDigest() {
        #expect(Fingerprint.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Fingerprint.of("abc") == "ba7816bf8f01")
    }
}

@Suite("APIKeyLoader")
struct APIKeyLoaderTests {
    @Test("environment, file and store sources, and what goes wrong with each")
    func sources() throws {
        let directory = "/tmp/ca-keys-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileIO.ensurePrivateDirectory(directory)
        let loader = APIKeyLoader(environment: ["KEY": "  sk-env\n", "SPACED": "sk a"], store: CredentialStore(stateDirectory: directory))

        #expect(try loader.load(profile: "p", from: .environment("KEY")).get() == Secret("sk-env"))
        guard case .failure(let missing) = loader.load(profile: "p", from: .environment("NOPE")) else {
            Issue.record("a missing variable loaded")
            return
        }
        #expect(missing.state == .missingKey)
        #expect(missing.message.contains("$NOPE"))
        guard case .failure(let spaced) = loader.load(profile: "p", from: .environment("SPACED")) else {
            Issue.record("a key with a space loaded")
            return
        }
        #expect(spaced.state == .error)

        try FileIO.writeAtomically(Array("sk-file\n".utf8), to: directory + "/key")
        #expect(try loader.load(profile: "p", from: .file(directory + "/key")).get() == Secret("sk-file"))
        chmod(directory + "/key", 0o604)
        guard case .failure(let lax) = loader.load(profile: "p", from: .file(directory + "/key")) else {
            Issue.record("a world-readable key file loaded")
            return
        }
        #expect(lax.message.contains("accessible by group or others"))
        guard case .failure(let absent) = loader.load(profile: "p", from: .stored) else {
            Issue.record("a key loaded from an empty store")
            return
        }
        #expect(absent.state == .missingKey)
        #expect(absent.message.contains("claude-auth set-key --profile p"))
    }
}
