import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ClaudeAuthDaemon

/// The watchdog's pings follow the serving event loops: a wedged loop stops them.
@Suite("watchdog")
struct WatchdogTests {
    @Test("no ping while a serving loop is wedged; pings resume once it runs again")
    func wedgedLoop() async throws {
        let healthy = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let wedged = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let release = DispatchSemaphore(value: 0)
        let blocked = DispatchSemaphore(value: 0)
        wedged.next().execute {
            blocked.signal()
            release.wait()
        }
        blocked.wait()

        let healthyPings = Atomic(0), wedgedPings = Atomic(0)
        let tasks = [
            Task { await Watchdog(interval: .zero, loops: healthy, ping: { healthyPings.add(1, ordering: .relaxed) }).run() },
            Task { await Watchdog(interval: .zero, loops: wedged, ping: { wedgedPings.add(1, ordering: .relaxed) }).run() },
        ]
        // The same watchdog on a healthy loop pings again and again meanwhile.
        #expect(await eventually { healthyPings.load(ordering: .relaxed) >= 5 })
        #expect(wedgedPings.load(ordering: .relaxed) == 0)

        release.signal()
        #expect(await eventually { wedgedPings.load(ordering: .relaxed) >= 1 })
        tasks.forEach { $0.cancel() }
        for task in tasks { await task.value }
        try await healthy.shutdownGracefully()
        try await wedged.shutdownGracefully()
    }

    /// Checks `condition` every millisecond until it holds, for at most five minutes (the suite shares two cores
    /// with the end-to-end tests).
    private func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(300)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }
}
