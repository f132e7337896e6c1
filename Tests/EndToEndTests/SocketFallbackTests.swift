import Foundation
import Testing

/// Client and daemon without `XDG_RUNTIME_DIR` (a root shell, `su`, a container): they agree on `/run/user/UID`
/// when it is the user's, else on `/tmp/claude-auth-UID/`, which must be the user's and 0700.
@Suite("the socket without XDG_RUNTIME_DIR", .serialized)
struct SocketFallbackTests {
    static let key = "sk-ant-api03-fallback-socket-0123456789"
    static let nobody: uid_t = 65534

    /// A home of `uid`'s own with an api-key profile, and the environment without `XDG_RUNTIME_DIR` that points at it.
    static func home(for uid: uid_t) throws -> (root: String, environment: [String: String]) {
        let root = "/tmp/ca-home-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: root + "/config/claude-auth", withIntermediateDirectories: true)
        try "[profiles.default]\nkind = \"api-key\"\nkey_env = \"FALLBACK_KEY\"\n".write(toFile: root + "/config/claude-auth/config.toml", atomically: true, encoding: .utf8)
        for path in [root, root + "/config", root + "/config/claude-auth", root + "/config/claude-auth/config.toml"] {
            chown(path, uid, uid)
            chmod(path, 0o700)
        }
        let environment = [
            "PATH": "/usr/bin:/bin", "HOME": root, "XDG_CONFIG_HOME": root + "/config", "XDG_STATE_HOME": root + "/state", "FALLBACK_KEY": key,
        ]
        return (root, environment)
    }

    /// Runs `executable` as `uid` (setpriv) with `environment`.
    static func run(as uid: uid_t, _ executable: String, _ arguments: [String], environment: [String: String]) throws -> CommandResult {
        let setpriv = try #require(which("setpriv"))
        return try runCommand(setpriv, ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", executable] + arguments, environment: environment)
    }

    @Test("another user (setpriv): both use /tmp/claude-auth-UID, made 0700; one made by someone else is refused by both")
    func anotherUser() throws {
        let uid = Self.nobody
        let directory = "/tmp/claude-auth-\(uid)"
        try #require(!FileManager.default.fileExists(atPath: "/run/user/\(uid)"), "/run/user/\(uid) exists here: the fallback is not used")
        try? FileManager.default.removeItem(atPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (root, environment) = try Self.home(for: uid)
        defer { try? FileManager.default.removeItem(atPath: root) }

        // Made by root first: the client says why it will not use it; the daemon will not start.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let refused = try Self.run(as: uid, Binaries.client, ["token"], environment: environment)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("\(directory) is not a 0700 directory of this user's"))
        let stopped = try Self.run(as: uid, Binaries.daemon, [], environment: environment)
        #expect(stopped.status == 69)
        #expect(stopped.stderr.contains(directory))
        try FileManager.default.removeItem(atPath: directory)

        let sandbox = try Sandbox()
        FileManager.default.createFile(atPath: sandbox.root + "/daemon.err", contents: nil)
        let daemon = try DaemonProcess(
            sandbox: sandbox, environment: environment.merging(["XDG_RUNTIME_DIR": ""]) { $1 },
            launch: .wrapped(executable: try #require(which("setpriv")), prefix: ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"], stderr: sandbox.root + "/daemon.err"),
            waitForReady: false)
        #expect(waitUntil(20) { FileManager.default.fileExists(atPath: directory + "/socket") })
        let token = try Self.run(as: uid, Binaries.client, ["token"], environment: environment)
        #expect(token.stdout == Self.key + "\n", "\(token.stderr)")
        var info = stat()
        #expect(lstat(directory, &info) == 0 && info.st_uid == uid && info.st_mode & 0o7777 == 0o700)
        let doctor = try Self.run(as: uid, Binaries.client, ["doctor"], environment: environment)
        #expect(doctor.stdout.contains("the socket is \(directory)/socket, XDG_RUNTIME_DIR is unset and /run/user/\(uid) is not this user's"))
        #expect(daemon.stop() == 0)
    }

    @Test("root without XDG_RUNTIME_DIR: /run/user/0 when it is root's, else /tmp/claude-auth-0")
    func root() throws {
        try #require(geteuid() == 0, "runs as root")
        let runtime = "/run/user/0"
        var info = stat()
        let usesRunUser = lstat(runtime, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_uid == 0
        let expected = usesRunUser ? runtime + "/claude-auth/socket" : "/tmp/claude-auth-0/socket"
        try #require(!FileManager.default.fileExists(atPath: expected), "\(expected) is in use here")
        let made = !usesRunUser && !FileManager.default.fileExists(atPath: "/tmp/claude-auth-0")
        defer { if made { try? FileManager.default.removeItem(atPath: "/tmp/claude-auth-0") } }
        let (home, environment) = try Self.home(for: 0)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let sandbox = try Sandbox()
        let daemon = try DaemonProcess(sandbox: sandbox, environment: environment.merging(["XDG_RUNTIME_DIR": ""]) { $1 })
        #expect(FileManager.default.fileExists(atPath: expected))
        let token = try runCommand(Binaries.client, ["token"], environment: environment)
        #expect(token.stdout == Self.key + "\n", "\(token.stderr)")
        let doctor = try runCommand(Binaries.client, ["doctor"], environment: environment)
        #expect(doctor.stdout.contains("the socket is \(expected)"))
        #expect(daemon.stop() == 0)
        unlink(expected)
    }
}
