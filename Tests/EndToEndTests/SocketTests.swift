import Foundation
import Testing

/// The socket: where and how it is made, socket activation, readiness, and who may talk to it.
@Suite("the socket")
struct SocketTests {
    static let key = "sk-ant-api03-SOCKETKEY-0005"
    let sandbox: Sandbox

    init() throws {
        sandbox = try Sandbox()
        try sandbox.writeConfig(
            """
            [profiles.default]
            kind = "api-key"
            key_env = "ANTHROPIC_API_KEY"
            """)
    }

    @Test("bound by hand: a 0700 directory, a 0600 socket, READY=1 with a status line, STOPPING=1 on SIGTERM")
    func boundByHand() throws {
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        #expect(try sandbox.mode(of: sandbox.root + "/run/claude-auth") == 0o700)
        #expect(try sandbox.mode(of: sandbox.socketPath) == 0o600)
        let ready = daemon.readyMessages.joined(separator: "\n")
        #expect(ready.contains("STATUS=serving 1 profile, default default"))
        #expect(try sandbox.client(["token"]).stdout == Self.key + "\n")
        // The daemon forbids core dumps itself, whatever the unit says.
        let limits = try String(contentsOfFile: "/proc/\(daemon.pid)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
        #expect(core?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2) == ["0", "0"])

        daemon.signal(SIGTERM)
        #expect(daemon.notify.wait(for: "STOPPING=1") != nil)
        #expect(daemon.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: sandbox.socketPath))
    }

    @Test("a stale socket is replaced; a live daemon and a non-socket at the path are refused")
    func stalePaths() throws {
        let first = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        let second = try DaemonProcess(sandbox: sandbox, waitForReady: false)
        #expect(second.waitForExit() == 69)
        #expect(second.log().contains("another claude-authd is already serving \(sandbox.socketPath)"))
        #expect(try sandbox.client(["token"]).stdout == Self.key + "\n")

        first.signal(SIGKILL)
        first.waitForExit()
        #expect(FileManager.default.fileExists(atPath: sandbox.socketPath))
        let third = try DaemonProcess(sandbox: sandbox, environment: ["ANTHROPIC_API_KEY": Self.key])
        #expect(try sandbox.client(["token"]).stdout == Self.key + "\n")
        third.stop()

        try "not a socket".write(toFile: sandbox.socketPath, atomically: true, encoding: .utf8)
        let fourth = try DaemonProcess(sandbox: sandbox, waitForReady: false)
        #expect(fourth.waitForExit() == 69)
        #expect(fourth.log().contains("exists and is not a socket"))
        #expect(try String(contentsOfFile: sandbox.socketPath, encoding: .utf8) == "not a socket")
    }

    @Test("a socket directory open to others is refused")
    func laxSocketDirectory() throws {
        try FileManager.default.createDirectory(atPath: sandbox.root + "/run/claude-auth", withIntermediateDirectories: true)
        chmod(sandbox.root + "/run/claude-auth", 0o755)
        let daemon = try DaemonProcess(sandbox: sandbox, waitForReady: false)
        #expect(daemon.waitForExit() == 69)
        #expect(daemon.log().contains("is accessible by group or others (mode 755)"))
    }

    @Test("socket-activated: the inherited socket is served, and READY=1 comes only once a request can be served")
    func socketActivation() throws {
        let path = sandbox.root + "/activated.sock"
        let daemon = try DaemonProcess(
            sandbox: sandbox,
            environment: ["ANTHROPIC_API_KEY": Self.key],
            launch: .socketActivated(path: path),
            waitForReady: false
        )
        // systemd-socket-activate listens at once and starts the daemon on the first connection.
        let trigger = try RawConnection(path: path, timeout: 20)
        trigger.send("GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let messages = try #require(daemon.notify.wait(for: "READY=1"))
        #expect(messages.joined().contains("STATUS=serving 1 profile"))
        // The moment READY=1 arrives, a request must be served.
        let token = try sandbox.client(["token", "--socket", path])
        #expect(token.status == 0)
        #expect(token.stdout == Self.key + "\n")
        #expect(try #require(trigger.readToEnd()).hasPrefix("HTTP/1.1 200"))
        daemon.stop()
        // An inherited socket belongs to the manager: the daemon must not unlink it.
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test("another user's connection is refused and logged, even on a socket others may open")
    func otherUserRefused() throws {
        let setpriv = try #require(which("setpriv"))
        let curl = try #require(which("curl"))
        guard getuid() == 0 else {
            Issue.record("this test needs root to act as another user")
            return
        }
        // A world-writable socket in a traversable directory: only SO_PEERCRED stands in the way.
        let directory = "/tmp/ca-peer-" + String(UUID().uuidString.prefix(6))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/socket"
        let daemon = try DaemonProcess(
            sandbox: sandbox,
            environment: ["ANTHROPIC_API_KEY": Self.key],
            launch: .socketActivated(path: path),
            waitForReady: false
        )
        let trigger = try RawConnection(path: path, timeout: 20)
        // As a unit with a careless SocketMode=0666 would leave it.
        chmod(path, 0o666)
        trigger.send("GET /v1/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try #require(trigger.readToEnd()).hasSuffix(Self.key + "\n"))
        #expect(try sandbox.mode(of: path) & 0o002 != 0)

        let stranger = try runCommand(
            setpriv, ["--reuid=nobody", "--regid=nogroup", "--clear-groups", curl, "-sS", "--unix-socket", path, "http://localhost/v1/token"],
            environment: ["PATH": "/usr/bin:/bin"])
        #expect(stranger.status != 0)
        #expect(!stranger.stdout.contains(Self.key))
        #expect(daemon.log().contains("refused a connection from another user"))
        #expect(daemon.log().contains("uid=65534"))
        #expect(try runCommand(Binaries.client, ["token", "--socket", path], environment: sandbox.environment()).status == 0)
        daemon.stop()
    }
}
