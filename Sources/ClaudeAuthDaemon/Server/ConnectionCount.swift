import Synchronization

/// The number of connections a listener is serving, bounded.
final class ConnectionCount: Sendable {
    private let count = Atomic(0)

    /// Counts a new connection unless `limit` are already served.
    func enter(limit: Int) -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Counts a connection's end.
    func leave() {
        count.subtract(1, ordering: .acquiringAndReleasing)
    }
}
