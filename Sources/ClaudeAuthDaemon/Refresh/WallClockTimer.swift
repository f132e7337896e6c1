#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CProcessControl
import SystemdSupport

#if canImport(Glibc)
import Glibc
#endif

/// A one-shot timer on the wall clock (`timerfd`, `CLOCK_REALTIME`, absolute): it fires at the instant even after a
/// suspend, and also fires when the clock is set, so refresh deadlines hold across both.
final class WallClockTimer: Sendable {
    /// The longest the timer is armed ahead: it always runs, so that a clock being set is noticed.
    static let longestWait: TimeInterval = 3600

    private let descriptor: Int32

    /// Creates the timer; its thread calls `fired` at each expiry or clock change.
    init(fired: @escaping @Sendable () -> Void) throws(TimerError) {
        descriptor = timerfd_create(CLOCK_REALTIME, Int32(TFD_CLOEXEC))
        guard descriptor >= 0 else { throw TimerError(errno: errno) }
        let descriptor = self.descriptor
        guard DetachedThread.start({ Self.loop(descriptor, fired: fired) }) else {
            close(descriptor)
            throw TimerError(errno: EAGAIN)
        }
    }

    /// Arms the timer for `deadline`, or for the longest wait when there is none or it is further.
    func arm(at deadline: Date?, now: Date = Date()) {
        let instant = min(deadline ?? .distantFuture, now.addingTimeInterval(Self.longestWait)).timeIntervalSince1970
        let seconds = max(instant.rounded(.down), 0)
        var value = itimerspec()
        value.it_value.tv_sec = Int(seconds)
        value.it_value.tv_nsec = max(1, Int((instant - seconds) * 1e9))
        timerfd_settime(descriptor, Int32(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET), &value, nil)
    }

    private static func loop(_ descriptor: Int32, fired: @Sendable () -> Void) {
        var expirations: UInt64 = 0
        while true {
            let count = read(descriptor, &expirations, MemoryLayout<UInt64>.size)
            // ECANCELED: the clock was set; the scheduler re-arms from the new time.
            if count == MemoryLayout<UInt64>.size || (count < 0 && errno == ECANCELED) {
                fired()
            } else if count < 0 && errno != EINTR {
                return
            }
        }
    }
}

/// The timer could not be created.
struct TimerError: Error, CustomStringConvertible {
    var errno: Int32
    var description: String { "cannot create the refresh timer: \(String(cString: strerror(errno)))" }
}
