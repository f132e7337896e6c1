import ClaudeAuthAPI
import Foundation
import Testing

@testable import ClaudeAuthCore

@Suite("the official SDKs' profile files")
struct SDKProfileFilesTests {
    let root = "/tmp/sdk-files-" + String(UUID().uuidString.prefix(8))
    var files: SDKProfileFiles { SDKProfileFiles(directory: root + "/anthropic") }

    func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    @Test("written 0600 in 0700 directories: the token, its expiry in whole Unix seconds, the base URL; no client id, no refresh token")
    func written() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try files.write("work", token: Secret("tok-1"), expiresAt: Date(timeIntervalSince1970: 1_800_000_000.9), baseURL: "https://api.example", owner: "p")
        let credentials = try json(files.credentialsPath("work"))
        #expect(credentials["access_token"] as? String == "tok-1")
        #expect(credentials["expires_at"] as? Int == 1_800_000_000)
        #expect(credentials["type"] as? String == "oauth_token" && credentials["version"] as? String == "1.0")
        #expect(credentials["refresh_token"] == nil)
        let config = try json(files.configPath("work"))
        #expect(config["base_url"] as? String == "https://api.example")
        #expect(config["authentication"] as? [String: String] == ["type": "user_oauth"])
        for (path, expected) in [(files.credentialsPath("work"), 0o600), (files.configPath("work"), 0o600), (root + "/anthropic/credentials", 0o700), (root + "/anthropic/configs", 0o700)] {
            #expect(try mode(path) == expected, "\(path)")
        }
        // Rewritten after a refresh, removed at logout.
        try files.write("work", token: Secret("tok-2"), expiresAt: nil, baseURL: "https://api.example", owner: "p")
        #expect(try json(files.credentialsPath("work"))["access_token"] as? String == "tok-2")
        try files.remove("work")
        #expect(!FileManager.default.fileExists(atPath: files.credentialsPath("work")))
        #expect(!FileManager.default.fileExists(atPath: files.configPath("work")))
    }

    @Test("a file the daemon did not write, a symlink, or unreadable JSON is neither replaced nor removed")
    func foreign() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/anthropic/credentials", withIntermediateDirectories: true)
        let path = files.credentialsPath("mine")
        for original in [#"{"access_token": "users", "expires_at": 1}"#, "not json", ""] {
            try original.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: FileError(path: path, reason: .notOurs)) {
                try files.write("mine", token: Secret("t"), expiresAt: nil, baseURL: "https://x", owner: "p")
            }
            #expect(throws: FileError(path: path, reason: .notOurs)) { try files.remove("mine") }
            #expect(try String(contentsOfFile: path, encoding: .utf8) == original)
        }
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: root + "/elsewhere")
        #expect(throws: FileError(path: path, reason: .notOurs)) {
            try files.write("mine", token: Secret("t"), expiresAt: nil, baseURL: "https://x", owner: "p")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/elsewhere"))
    }
}
