import Foundation

/// How the daemon is started.
enum Launch {
    /// Directly: it binds its socket itself.
    case direct
    /// Under `systemd-socket-activate -l PATH`, which listens at once and starts the daemon on the first connection.
    case socketActivated(path: String)
    /// As the last argument of `executable prefix…`, with stderr to its own file.
    case wrapped(executable: String, prefix: [String], stderr: String)
}

/// A running `claude-authd`, started with a `NOTIFY_SOCKET` the test owns, and stopped by its PID.
final class DaemonProcess {
    let process: ChildProcess
    let logPath: String
    let notify: NotifySocket
    private(set) var readyMessages: [String] = []

    /// Starts the daemon (directly, or socket-activated) and waits for `READY=1`.
    init(
        sandbox: Sandbox,
        arguments: [String] = [],
        environment extra: [String: String] = [:],
        launch: Launch = .direct,
        waitForReady: Bool = true
    ) throws {
        logPath = "\(sandbox.root)/daemon-\(UUID().uuidString.prefix(4)).log"
        notify = try NotifySocket(path: "\(sandbox.root)/notify-\(UUID().uuidString.prefix(4))")
        var environment = sandbox.environment(extra)
        environment["NOTIFY_SOCKET"] = notify.path
        let executable: String
        let argv: [String]
        switch launch {
        case .direct:
            executable = Binaries.daemon
            argv = arguments
        case .socketActivated(let path):
            guard let activate = which("systemd-socket-activate") else {
                throw HarnessError(description: "systemd-socket-activate is not installed")
            }
            // It passes on only the variables named with -E.
            let forwarded = environment.keys.sorted().flatMap { ["-E", $0] }
            executable = activate
            argv = ["-l", path] + forwarded + [Binaries.daemon] + arguments
        case .wrapped(let wrapper, let prefix, _):
            executable = wrapper
            argv = prefix + [Binaries.daemon] + arguments
        }
        let logFD: Int32
        if case .wrapped(_, _, let stderr) = launch {
            logFD = open(stderr, O_WRONLY | O_APPEND | O_CLOEXEC)
        } else {
            logFD = try openOutput(logPath)
        }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            close(logFD)
            close(null)
        }
        process = try ChildProcess(executable, argv, environment: environment, stdin: null, stdout: logFD, stderr: logFD)
        if waitForReady {
            guard let messages = notify.wait(for: "READY=1") else {
                stop()
                throw HarnessError(description: "claude-authd sent no READY=1; its log:\n\(log())")
            }
            readyMessages = messages
        }
    }

    deinit {
        stop()
    }

    var pid: Int32 { process.pid }

    /// The daemon's stderr so far.
    func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Sends a signal.
    func signal(_ number: Int32) {
        process.signal(number)
    }

    /// Waits for the process to exit; returns its status, or nil if it is still running after `timeout`.
    @discardableResult
    func waitForExit(timeout: TimeInterval = 20) -> Int32? {
        process.wait(timeout: timeout)
    }

    /// SIGTERM, then SIGKILL if it does not stop in time; returns the exit status.
    @discardableResult
    func stop() -> Int32? {
        guard process.isRunning else { return process.wait(timeout: 1) }
        signal(SIGTERM)
        if let status = waitForExit(timeout: 10) { return status }
        signal(SIGKILL)
        return waitForExit(timeout: 5)
    }
}
