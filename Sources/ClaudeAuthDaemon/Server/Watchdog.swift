import NIOCore

/// Keeps the service manager's watchdog (`WatchdogSec=`) fed while the server can still serve.
///
/// Each ping follows a round trip through every event loop that serves connections, made from a task on
/// the executor that runs the request handlers: a wedged loop or a starved executor stops the pings, and
/// systemd restarts the daemon.
struct Watchdog: Sendable {
    /// The manager's interval; pings go out at half of it.
    let interval: Duration
    /// The loops serving the socket.
    let loops: any EventLoopGroup
    /// Sends `WATCHDOG=1`.
    let ping: @Sendable () -> Void

    /// Pings until cancelled.
    func run() async {
        while !Task.isCancelled {
            for loop in loops.makeIterator() {
                try? await loop.submit {}.get()
            }
            ping()
            try? await Task.sleep(for: interval / 2)
        }
    }
}
