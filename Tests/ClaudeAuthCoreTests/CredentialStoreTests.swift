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
