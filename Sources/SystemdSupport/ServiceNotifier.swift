import CSystemd

/// Tells the service manager about the daemon's state (`sd_notify`); does nothing without `NOTIFY_SOCKET`.
public struct ServiceNotifier: Sendable {
    /// Creates a notifier.
    public init() {}

    /// `READY=1` with a status line: only once requests can be served.
    public func ready(status: String) {
        send("READY=1\nSTATUS=\(Self.oneLine(status))")
    }

    /// `STATUS=`: a one-line summary for `systemctl status`.
    public func status(_ status: String) {
        send("STATUS=\(Self.oneLine(status))")
    }

    /// `RELOADING=1` before a configuration reload.
    public func reloading() {
        send("RELOADING=1")
    }

    /// `READY=1` after a reload, with the new status.
    public func reloaded(status: String) {
        ready(status: status)
    }

    /// `STOPPING=1` at the start of a graceful stop.
    public func stopping() {
        send("STOPPING=1")
    }

    /// `WATCHDOG=1`: the daemon is alive.
    public func watchdog() {
        send("WATCHDOG=1")
    }

    /// The watchdog interval the manager expects pings within, when `WatchdogSec=` is set for this process.
    public func watchdogInterval() -> Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }

    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}
