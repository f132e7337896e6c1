import NIOCore
import NIOPosix

/// The credential store's blocking I/O (`open`, `write`, `fsync`, `rename`), on a thread of its own: off the
/// cooperative pool, and one job at a time in the order given, so a check and the write it guards are one step
/// for every other job.
struct StoreLane: Sendable {
    /// The daemon's lane: one thread for the life of the process.
    static let shared = StoreLane(loop: MultiThreadedEventLoopGroup(numberOfThreads: 1).next())

    private let loop: any EventLoop

    /// Queues `job` after every job given before it, without waiting for it.
    func submit(_ job: @escaping @Sendable () -> Void) {
        loop.execute(job)
    }

    /// Runs `job` after every job given before it.
    func run<T: Sendable>(_ job: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            loop.execute { continuation.resume(returning: job()) }
        }
    }
}
