import Foundation

/// A private session bus with the stand-in notification server (`Tests/Servers/notifications/server`) on it,
/// which records every call the daemon makes and plays the user's clicks.
final class NotificationServer {
    let bus: PrivateBus
    private let process: ChildProcess
    private let record: String

    init(sandbox: Sandbox) throws {
        bus = try PrivateBus(sandbox: sandbox)
        record = sandbox.root + "/notifications.jsonl"
        let output = sandbox.root + "/notification-server.out"
        let out = try openOutput(output)
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            close(out)
            close(null)
        }
        process = try ChildProcess(
            Binaries.repositoryRoot + "/Tests/Servers/notifications/server", [record],
            environment: ["PATH": "/usr/bin:/bin", "DBUS_SESSION_BUS_ADDRESS": bus.address], stdin: null, stdout: out, stderr: out)
        let ready = waitUntil(20) { (try? String(contentsOfFile: output, encoding: .utf8))?.contains("ready") == true }
        guard ready else {
            process.signal(SIGKILL)
            _ = process.wait(timeout: 5)
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw HarnessError(description: "the notification server did not start (apt-get install python3-dbus python3-gi): \(text)")
        }
    }

    deinit {
        process.signal(SIGTERM)
        if process.wait(timeout: 5) == nil {
            process.signal(SIGKILL)
            _ = process.wait(timeout: 5)
        }
    }

    /// Every call received so far, in order.
    func calls() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The `Notify` calls received so far.
    func notifications() -> [[String: Any]] {
        calls().filter { $0["method"] as? String == "Notify" }
    }

    /// The summaries of the notifications so far.
    func summaries() -> [String] {
        notifications().compactMap { $0["summary"] as? String }
    }

    /// The user clicks `key` on notification `id`.
    func invokeAction(id: Int, key: String) throws {
        try control("InvokeAction", ["uint32:\(id)", "string:\(key)"])
    }

    /// The user dismisses notification `id`.
    func dismiss(id: Int) throws {
        try control("Dismiss", ["uint32:\(id)"])
    }

    private func control(_ member: String, _ arguments: [String]) throws {
        let result = try runCommand(
            which("dbus-send")!,
            ["--bus=\(bus.address)", "--print-reply", "--type=method_call", "--dest=org.freedesktop.Notifications",
             "/org/freedesktop/Notifications", "org.claudeauth.Test.\(member)"] + arguments,
            environment: [:])
        guard result.status == 0 else { throw HarnessError(description: "dbus-send: \(result.stderr)") }
    }
}
