import Foundation

/// A private `dbus-daemon` on a socket in a test's sandbox, standing in for the system or session bus.
final class PrivateBus {
    let process: ChildProcess
    let address: String

    init(sandbox: Sandbox) throws {
        guard let daemon = which("dbus-daemon") else {
            throw HarnessError(description: "dbus-daemon is not installed (.ci/run installs it: apt-get install dbus)")
        }
        let path = "\(sandbox.root)/bus-\(UUID().uuidString.prefix(4))"
        address = "unix:path=\(path)"
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        // The session configuration lets any connection of this user send signals.
        process = try ChildProcess(
            daemon, ["--config-file=/usr/share/dbus-1/session.conf", "--nofork", "--nopidfile", "--address=\(address)"],
            environment: ["PATH": "/usr/bin:/bin"], stdin: null, stdout: null, stderr: null)
        _ = try RawConnection(path: path, timeout: 10)
    }

    deinit {
        process.signal(SIGTERM)
        _ = process.wait(timeout: 5)
    }

    /// Emits a signal with `dbus-send`.
    func emit(path: String, member: String, _ arguments: [String]) throws {
        let result = try runCommand(which("dbus-send")!, ["--bus=\(address)", "--type=signal", path, member] + arguments, environment: [:])
        guard result.status == 0 else { throw HarnessError(description: "dbus-send: \(result.stderr)") }
    }
}
