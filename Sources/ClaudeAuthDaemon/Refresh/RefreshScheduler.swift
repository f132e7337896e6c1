#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ServiceLifecycle

/// Runs proactive refreshes: on every wake-up (the timer, a resume from suspend, new tokens, a finished refresh,
/// a reload) it starts the refreshes due and sets the timer for the next deadline.
struct RefreshScheduler: Service {
    let sessions: OAuthSessions
    /// Wake-ups, coalesced: one pending is enough.
    let wakeups: AsyncStream<Void>
    /// Sets the timer for the next deadline (nil: none planned).
    let arm: @Sendable (Date?) -> Void

    /// A stream of wake-ups and the function that sends one.
    static func makeWakeups() -> (stream: AsyncStream<Void>, wake: @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        return (stream, { continuation.yield() })
    }

    func run() async {
        for await _ in wakeups.cancelOnGracefulShutdown() {
            arm(sessions.startDueRefreshes())
        }
    }
}
