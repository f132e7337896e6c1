import Foundation
import Testing

/// The restricted remote socket forwarded as README says, through a real sshd's `ssh -R`, to a second local user
/// standing in for the remote host.
@Suite(
    "the remote socket over ssh -R",
    .serialized,
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") && geteuid() == 0, "needs root and /usr/sbin/sshd (openssh-server)"))
struct RemoteSocketTests {
    static let shared = "sk-ant-api03-remote-shared-0123456789"
    static let local = "sk-ant-api03-remote-local-9876543210"
    /// The remote side's user.
    static let nobody: uid_t = 65534

    /// A private sshd on a loopback port that lets the test's key in as nobody, for stream-local forwarding only.
    final class SSHServer {
        let directory: String
        let port: Int
        private let sshd: ChildProcess

        init() throws {
            directory = "/tmp/ca-ssh-" + String(UUID().uuidString.prefix(8))
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            for key in ["host_key", "client_key"] {
                let made = try runCommand(which("ssh-keygen")!, ["-q", "-t", "ed25519", "-N", "", "-f", "\(directory)/\(key)"], environment: [:])
                guard made.status == 0 else { throw HarnessError(description: "ssh-keygen: \(made.stderr)") }
            }
            try FileManager.default.copyItem(atPath: "\(directory)/client_key.pub", toPath: "\(directory)/authorized_keys")
            chmod("\(directory)/authorized_keys", 0o644)
            port = try freePort()
            try """
                Port \(port)
                ListenAddress 127.0.0.1
                HostKey \(directory)/host_key
                PidFile \(directory)/sshd.pid
                AuthorizedKeysFile \(directory)/authorized_keys
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitTTY no
                AllowStreamLocalForwarding yes
                StreamLocalBindUnlink yes
                StreamLocalBindMask 0177

                """.write(toFile: "\(directory)/sshd_config", atomically: true, encoding: .utf8)
            // Privilege separation needs its empty directory, which a booted system makes.
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            let log = try openOutput("\(directory)/sshd.log")
            let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer {
                close(log)
                close(null)
            }
            sshd = try ChildProcess("/usr/sbin/sshd", ["-D", "-e", "-f", "\(directory)/sshd_config"], environment: [:], stdin: null, stdout: log, stderr: log)
            let port = self.port
            guard waitUntil(20, { withLoopbackAddress(port: port) { address, length in
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(fd) }
                return connect(fd, address, length) == 0
            } }) else { throw HarnessError(description: "sshd did not listen: \(self.log())") }
        }

        deinit {
            sshd.signal(SIGTERM)
            _ = sshd.wait(timeout: 10)
            try? FileManager.default.removeItem(atPath: directory)
        }

        func log() -> String {
            (try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8)) ?? ""
        }

        /// `ssh -N -R remote:local` as this (the daemon's) user, logged in as nobody: README's recipe.
        func forward(_ remote: String, to local: String) throws -> ChildProcess {
            let log = try openOutput("\(directory)/ssh.log")
            let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
            defer {
                close(log)
                close(null)
            }
            return try ChildProcess(
                which("ssh")!,
                ["-N", "-i", "\(directory)/client_key", "-p", "\(port)", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes", "-o", "BatchMode=yes", "-R", "\(remote):\(local)", "nobody@127.0.0.1"],
                environment: ["PATH": "/usr/bin:/bin", "HOME": directory], stdin: null, stdout: log, stderr: log)
        }
    }

    @Test("over ssh -R, the remote user gets tokens and headers of remote profiles; login, logout, set-key, reload and other profiles are refused and logged")
    func forwarded() throws {
        let sandbox = try Sandbox()
        try sandbox.writeConfig(
            """
            default_profile = "shared"
            [profiles.shared]
            kind = "api-key"
            key_env = "SHARED_KEY"
            remote = true
            [profiles.local]
            kind = "api-key"
            key_env = "LOCAL_KEY"
            """)
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["SHARED_KEY": Self.shared, "LOCAL_KEY": Self.local])
        let remoteSocket = sandbox.root + "/run/claude-auth/remote.socket"
        // The daemon binds the remote socket after the main one its start waits for.
        _ = try RawConnection(path: remoteSocket, timeout: 30)
        #expect(try sandbox.mode(of: remoteSocket) & 0o077 == 0)

        let server = try SSHServer()
        // The remote host's runtime directory: nobody's own.
        let remoteRuntime = server.directory + "/remote"
        try FileManager.default.createDirectory(atPath: remoteRuntime + "/claude-auth", withIntermediateDirectories: true)
        for path in [remoteRuntime, remoteRuntime + "/claude-auth"] {
            chown(path, Self.nobody, Self.nobody)
            chmod(path, 0o700)
        }
        let forwarded = remoteRuntime + "/claude-auth/socket"
        let ssh = try server.forward(forwarded, to: remoteSocket)
        defer {
            ssh.signal(SIGTERM)
            _ = ssh.wait(timeout: 10)
        }
        #expect(waitUntil(30) { FileManager.default.fileExists(atPath: forwarded) }, "\(server.log())")

        // On the remote side, as its user, with only its own runtime directory: the client just works.
        let remote = ["PATH": "/usr/bin:/bin", "HOME": remoteRuntime, "XDG_RUNTIME_DIR": remoteRuntime]
        func asRemote(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
            let setpriv = try #require(which("setpriv"))
            return try runCommand(setpriv, ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups", Binaries.client] + arguments, environment: remote, stdin: stdin)
        }
        #expect(try asRemote(["token"]).stdout == Self.shared + "\n")
        #expect(try asRemote(["header", "--profile", "shared"]).stdout.hasPrefix("x-api-key: \(Self.shared)\n"))
        for arguments in [["token", "--profile", "local"], ["login"], ["logout"], ["set-key", "--profile", "shared"], ["refresh"]] {
            let refused = try asRemote(arguments, stdin: "sk-ant-api03-intruder-key")
            #expect(refused.status == 77, "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains("remote socket"), "\(arguments): \(refused.stderr)")
            #expect(!refused.stdout.contains(Self.local))
        }
        let setpriv = try #require(which("setpriv"))
        let reload = try runCommand(
            setpriv, ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups", which("curl")!, "-sS", "-w", "\n%{http_code}", "--unix-socket", forwarded,
                      "-X", "POST", "http://localhost/v1/reload"], environment: remote)
        #expect(reload.stdout.hasSuffix("\n403") && reload.stdout.contains("forbidden"))

        // Each refusal logged; the local daemon otherwise as it was.
        let log = daemon.log()
        #expect(log.components(separatedBy: "event=remote_refused").count - 1 == 6, "\(log)")
        #expect(try sandbox.client(["token", "--profile", "local"]).stdout == Self.local + "\n")
        #expect(try sandbox.curl(["-X", "POST", "http://localhost/v1/reload"]).stdout.contains("\"profiles\""))
        #expect(!log.contains(Self.shared) && !log.contains(Self.local))
        #expect(daemon.stop() == 0)
    }

    @Test("without a profile marked remote, the daemon started by hand binds no remote socket")
    func notBound() throws {
        let sandbox = try Sandbox()
        try sandbox.writeConfig("[profiles.local]\nkind = \"api-key\"\nkey_env = \"LOCAL_KEY\"\n")
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["LOCAL_KEY": Self.local])
        #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/run/claude-auth/remote.socket"))
        #expect(daemon.stop() == 0)
    }
}
