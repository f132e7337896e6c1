import ClaudeAuthAPI

#if canImport(Glibc)
import Glibc
#endif

/// `claude-auth doctor`: checks the socket, the daemon, the configuration, the units and the environment,
/// and says what to fix.
public struct Doctor: Sendable {
    /// One finding.
    public struct Finding: Sendable, Equatable {
        /// How serious it is.
        public enum Severity: String, Sendable {
            case ok, warning, failure
        }

        /// How serious it is.
        public var severity: Severity
        /// What was checked and found, and what to do.
        public var message: String
        /// The exit status a failure calls for.
        public var exitCode: Int32 = 0
    }

    /// The socket path checked.
    public var socketPath: String
    /// Why that path: which rule of ``SocketPath`` chose it.
    public var socketReason: String
    /// The client's environment.
    public var environment: [String: String]
    /// Where `claude-authd` is, for `--check-config`; nil when it cannot be found.
    public var daemonExecutable: String?

    /// Creates a doctor.
    public init(socket: SocketPath.Located, environment: [String: String], daemonExecutable: String?) {
        self.socketPath = socket.path
        self.socketReason = socket.reason
        self.environment = environment
        self.daemonExecutable = daemonExecutable
    }

    /// Runs every check.
    public func run() -> [Finding] {
        var findings = [Finding(severity: .ok, message: "the socket is \(socketPath), \(socketReason)")] + socketFindings()
        let client = DaemonClient(socketPath: socketPath, timeout: 5)
        var configPath: String?
        do {
            let health = try client.health()
            findings.append(.init(severity: .ok, message: "claude-authd \(health.version) answers on \(socketPath)"))
            let status = try client.status().status
            configPath = status.config.path
            findings += profileFindings(status)
        } catch {
            findings.append(.init(severity: .failure, message: error.message, exitCode: error.exitCode))
        }
        findings += configFindings(configPath)
        findings += unitFindings()
        findings += environmentFindings()
        return findings
    }

    private func socketFindings() -> [Finding] {
        let directory = String(socketPath[..<(socketPath.lastIndex(of: "/") ?? socketPath.startIndex)])
        var findings: [Finding] = []
        var info = stat()
        if !directory.isEmpty, lstat(directory, &info) == 0 {
            if info.st_uid != geteuid() {
                findings.append(.init(severity: .failure, message: "\(directory) belongs to uid \(info.st_uid), not to you", exitCode: 77))
            } else if directory.hasSuffix("/claude-auth"), info.st_mode & 0o077 != 0 {
                findings.append(
                    .init(severity: .failure, message: "\(directory) is open to group or others: run `chmod 700 \(directory)`", exitCode: 77))
            }
        }
        guard lstat(socketPath, &info) == 0 else {
            return findings + [.init(severity: .warning, message: "no socket at \(socketPath) yet: is claude-authd.socket enabled?")]
        }
        if info.st_mode & S_IFMT != S_IFSOCK {
            findings.append(.init(severity: .failure, message: "\(socketPath) is not a socket: remove it", exitCode: 69))
        } else if info.st_mode & 0o077 != 0 {
            findings.append(
                .init(severity: .warning, message: "\(socketPath) is open to group or others (the daemon still refuses other users)"))
        } else {
            findings.append(.init(severity: .ok, message: "socket \(socketPath) is private"))
        }
        return findings
    }

    private func profileFindings(_ status: StatusResponse) -> [Finding] {
        if let error = status.config.lastReloadError {
            return [.init(severity: .failure, message: "the last reload was refused, the previous configuration is in force: \(error)", exitCode: 78)]
        }
        guard !status.profiles.isEmpty else {
            return [.init(severity: .warning, message: "no profiles configured in \(status.config.path): see README, Configuration")]
        }
        return status.profiles.map { profile in
            let name = "profile \"\(profile.name)\"\(profile.isDefault ? " (default)" : "")"
            guard profile.state == .ready else {
                return .init(severity: .warning, message: "\(name) is \(profile.state.rawValue): \(profile.message ?? "")")
            }
            return .init(severity: .ok, message: "\(name) is ready (\(profile.kind.rawValue), \(profile.source))")
        }
    }

    private func configFindings(_ reportedPath: String?) -> [Finding] {
        guard let daemonExecutable else {
            return [.init(severity: .warning, message: "claude-authd is not on PATH: cannot check the configuration file")]
        }
        var arguments = [daemonExecutable, "--check-config"]
        if let reportedPath { arguments += ["--config", reportedPath] }
        let (status, output) = Subprocess.run(arguments)
        var text = output.split(separator: "\n").last.map(String.init) ?? ""
        if text.hasPrefix("claude-authd: ") { text.removeFirst("claude-authd: ".count) }
        guard status == 0 else {
            let running = reportedPath == nil ? "" : " (the running daemon keeps the configuration it loaded)"
            return [.init(severity: .failure, message: "configuration: \(text)\(running)", exitCode: 78)]
        }
        return [.init(severity: .ok, message: "configuration: \(text)")]
    }

    private func unitFindings() -> [Finding] {
        let home = environment["HOME"] ?? "/"
        let configHome = environment["XDG_CONFIG_HOME"] ?? home + "/.config"
        let directories = [
            configHome + "/systemd/user", home + "/.local/share/systemd/user", "/etc/systemd/user",
            "/usr/local/share/systemd/user", "/usr/share/systemd/user", "/usr/local/lib/systemd/user", "/usr/lib/systemd/user",
        ]
        guard let directory = directories.first(where: { access($0 + "/claude-authd.socket", R_OK) == 0 }) else {
            return [.init(severity: .warning, message: "claude-authd.socket is not installed as a user unit: run `make install`")]
        }
        guard access(configHome + "/systemd/user/sockets.target.wants/claude-authd.socket", F_OK) == 0 else {
            return [
                .init(
                    severity: .warning,
                    message: "claude-authd.socket is installed in \(directory) but not enabled: run `systemctl --user enable --now claude-authd.socket`")
            ]
        }
        return [.init(severity: .ok, message: "claude-authd.socket is installed in \(directory) and enabled")]
    }

    private func environmentFindings() -> [Finding] {
        [Anthropic.Environment.apiKey, Anthropic.Environment.authToken].compactMap { variable in
            guard let value = environment[variable], !value.isEmpty else { return nil }
            return .init(
                severity: .warning,
                message: "\(variable) is set: `claude-auth header` and `token` without --profile use it instead of the "
                    + "daemon's default profile, and Claude Code bills it instead of your login; unset it or pass --profile")
        }
    }
}
