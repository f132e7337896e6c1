import Foundation

/// A minimal Debian 12 booted under `systemd-nspawn`, with the lingering user alice's `systemd --user`
/// running, and the project installed into alice's home from the tree `make test` staged with
/// `make install DESTDIR=… PREFIX=/home/alice/.local`.
///
/// The root file system is made once by `Tests/Servers/nspawn/rootfs` and cached; the container runs on a
/// throw-away overlay of it. Every command is bounded in time; the container is stopped by its PID.
final class UserManagerContainer {
    static let user = (name: "alice", uid: 1000)
    static let home = "/home/alice"

    /// Why the suite cannot run here, or nil when it can.
    static let unavailableReason: String? = {
        if geteuid() != 0 { return "needs root to boot a container" }
        for tool in ["systemd-nspawn", "nsenter", "debootstrap"] where which(tool) == nil {
            return "\(tool) is not installed (apt-get install systemd-container debootstrap util-linux)"
        }
        guard let stage = stageDirectory, FileManager.default.fileExists(atPath: stage + home + "/.local/bin/claude-authd") else {
            return "no staged install: run it through `make test`, which stages `make install` for the container"
        }
        return nil
    }()

    /// `$CLAUDE_AUTH_STAGE_DIR`: the DESTDIR `make test` installed into.
    static var stageDirectory: String? {
        ProcessInfo.processInfo.environment["CLAUDE_AUTH_STAGE_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    }

    private let nspawn: ChildProcess
    private let console: String
    /// The container's PID 1, as the host sees it.
    let initPID: Int32

    /// Boots the container and waits (bounded) until alice's user manager is running. Without a private
    /// network it shares the host's, so the daemon inside can reach servers the test runs on loopback.
    init(privateNetwork: Bool = true) throws {
        let rootfs = try Self.rootFileSystem()
        console = "/tmp/nspawn-\(UUID().uuidString.prefix(8)).log"
        let output = try openOutput(console)
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            close(output)
            close(null)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1"
        let nspawn = try ChildProcess(
            which("systemd-nspawn")!,
            // A machine name of its own: nspawn keeps per-machine state under /run/systemd/nspawn, which a
            // container still shutting down would share with the next one.
            ["--boot", "-D", rootfs, "--machine=ca-\(UUID().uuidString.prefix(8).lowercased())", "--volatile=overlay",
             "--register=no", "--keep-unit", "--link-journal=no",
             "--console=pipe", "--bind-ro=\(Self.stageDirectory!):/stage"] + (privateNetwork ? ["--private-network"] : []),
            environment: environment, stdin: null, stdout: output, stderr: output)
        self.nspawn = nspawn
        var found: Int32?
        _ = waitUntil(30) {
            found = Self.child(of: nspawn.pid)
            return found != nil
        }
        guard let found else {
            nspawn.signal(SIGKILL)
            _ = nspawn.wait(timeout: 10)
            throw HarnessError(description: "the container did not start")
        }
        initPID = found
        var state = ""
        let booted = try waitUntil(120, every: 200_000) {
            state = try asUser("systemctl --user is-system-running").stdout
            return state.hasPrefix("running") || state.hasPrefix("degraded")
        }
        guard booted else {
            let system = (try? runCommand(which("nsenter")!, ["-t", "\(initPID)", "-a", "systemctl", "list-jobs", "--no-pager"], environment: [:]))?.stdout ?? ""
            stop()
            throw HarnessError(description: "alice's user manager did not come up (\(state)); the system's jobs:\n\(system)\nthe console:\n\(consoleLog())")
        }
    }

    deinit {
        stop()
        unlink(console)
    }

    /// Powers the container off by signalling its nspawn, and waits for it (bounded).
    func stop() {
        nspawn.signal(SIGTERM)
        if nspawn.wait(timeout: 30) == nil {
            nspawn.signal(SIGKILL)
            _ = nspawn.wait(timeout: 10)
        }
    }

    func consoleLog() -> String {
        (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
    }

    /// Runs `sh -c script` in the container as alice, in her session's environment (her runtime directory
    /// and user bus, her ~/.local/bin first on PATH) and nothing of the host's.
    func asUser(_ script: String, stdin: String? = nil, timeout: TimeInterval = 30) throws -> CommandResult {
        try runCommand(
            which("nsenter")!,
            ["-t", "\(initPID)", "-a", "setpriv", "--reuid=\(Self.user.uid)", "--regid=\(Self.user.uid)", "--init-groups",
             "env", "-i", "HOME=\(Self.home)", "USER=\(Self.user.name)", "LANG=C.UTF-8",
             "XDG_RUNTIME_DIR=/run/user/\(Self.user.uid)",
             "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/\(Self.user.uid)/bus",
             "PATH=\(Self.home)/.local/bin:/usr/bin:/bin", "sh", "-c", script],
            environment: [:], stdin: stdin, timeout: timeout)
    }

    /// Runs `sh -c script` in the container as root: another uid than alice's.
    func asRoot(_ script: String, timeout: TimeInterval = 30) throws -> CommandResult {
        try runCommand(which("nsenter")!, ["-t", "\(initPID)", "-a", "env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", script], environment: [:], timeout: timeout)
    }

    /// Like `asUser`, but fails the harness unless the script exits 0; returns its standard output.
    @discardableResult
    func mustAsUser(_ script: String, stdin: String? = nil, timeout: TimeInterval = 30) throws -> String {
        let result = try asUser(script, stdin: stdin, timeout: timeout)
        guard result.status == 0 else {
            throw HarnessError(description: "`\(script)` exited \(result.status): \(result.stderr)\(result.stdout)")
        }
        return result.stdout
    }

    /// Copies the staged `make install` tree (bound read-only at /stage) into place, owned by alice as her
    /// own `make install` would leave it.
    func installStagedTree() throws {
        try mustAsUser("tar -C /stage\(Self.home) -cf - . | tar -C \(Self.home) -xf - --no-same-owner", timeout: 60)
    }

    /// A `systemctl --user show` property of a unit.
    func property(_ name: String, of unit: String) throws -> String {
        try mustAsUser("systemctl --user show -P \(name) \(unit)").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The user journal's messages for `claude-authd.service`, one a line.
    func journalText() throws -> String {
        try mustAsUser("journalctl --user -u claude-authd.service --no-pager -o cat")
    }

    /// The user journal's entries for `claude-authd.service`, as JSON objects.
    func journal() throws -> [[String: Any]] {
        try mustAsUser("journalctl --user -u claude-authd.service -o json --no-pager")
            .split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The cached root file system, made first if need be (bounded: a debootstrap takes one to two minutes).
    private static func rootFileSystem() throws -> String {
        let script = Binaries.repositoryRoot + "/Tests/Servers/nspawn/rootfs"
        let result = try runCommand(script, [], environment: ProcessInfo.processInfo.environment, timeout: 900)
        guard result.status == 0 else { throw HarnessError(description: "rootfs: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The container's init among the children of `pid` (nspawn): the one that is PID 1 in a PID namespace of its
    /// own. nspawn's first child only sets the container up and exits; on a loaded machine it lives long enough to
    /// be found first, and a command entering its namespaces then finds nothing.
    private static func child(of pid: Int32) -> Int32? {
        guard let children = try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8) else { return nil }
        return children.split(separator: " ").compactMap { Int32($0) }.first { child in
            guard let status = try? String(contentsOfFile: "/proc/\(child)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") })
            else { return false }
            let ids = line.dropFirst("NSpid:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return ids.count >= 2 && ids.last == "1"
        }
    }
}
