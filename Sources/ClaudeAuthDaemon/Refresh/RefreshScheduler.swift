#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ServiceLifecycle

/// Runs the refreshes: each one the sessions start is a child of this service's task group. On every wake-up (the
/// timer, a resume from suspend, new tokens, a finished refresh, a reload) it starts the refreshes due and sets
/// the timer for the next deadline. On graceful shutdown it stops starting refreshes and lets those in flight
/// finish, for at most ``drainLimit``: a grant the server may already have processed must not be abandoned, or
/// its rotated refresh token is lost.
struct RefreshScheduler: Service {
    let sessions: OAuthSessions
    /// Wake-ups, coalesced: one pending is enough.
    let wakeups: AsyncStream<Void>
    /// Sets the timer for the next deadline (nil: none planned).
    let arm: @Sendable (Date?) -> Void
    /// How long a graceful shutdown waits for the refreshes in flight before cancelling them.
    var drainLimit: Duration = .seconds(10)

    /// A stream of wake-ups and the function that sends one.
    static func makeWakeups() -> (stream: AsyncStream<Void>, wake: @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        return (stream, { continuation.yield() })
    }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await runRefreshes() }
            group.addTask { [drainLimit] in
                guard (try? await gracefulShutdown()) != nil else { return }
                try? await Task.sleep(for: drainLimit)
            }
            // The refreshes drained, or the drain took too long (or the service was cancelled): end the rest.
            await group.next()
            group.cancelAll()
        }
    }

    /// Starts the refreshes due at each wake-up, runs every refresh started, and returns once graceful shutdown
    /// has come and the refreshes in flight have ended.
    private func runRefreshes() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in wakeups.cancelOnGracefulShutdown() {
                    arm(sessions.startDueRefreshes())
                }
            }
            for await job in sessions.refreshes.cancelOnGracefulShutdown() {
                group.addTask { await sessions.perform(job) }
            }
        }
    }
}
