import CSystemd
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One sd-bus connection driven by a thread of its own, as sd-bus objects are not thread-safe: signal handlers
/// run on that thread, and work for the connection is queued to it.
final class BusConnection: @unchecked Sendable {
    /// Which bus to connect to.
    enum Bus {
        /// `DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket.
        case system
        /// `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`.
        case user
    }

    typealias Job = @Sendable (_ bus: OpaquePointer) -> Void

    private let bus: OpaquePointer
    private let jobs = Mutex<[Job]>([])
    /// A pipe whose read end the thread polls beside the bus, so queued work wakes it.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// The signal handlers, kept alive as long as the connection.
    private var handlers: [SignalHandler] = []

    /// Connects; the connection is idle until ``start()``.
    static func open(_ which: Bus) -> Result<BusConnection, BusError> {
        var bus: OpaquePointer?
        let opened = which == .system ? sd_bus_open_system(&bus) : sd_bus_open_user(&bus)
        guard opened >= 0, let bus else {
            return .failure(BusError(call: which == .system ? "sd_bus_open_system" : "sd_bus_open_user", code: opened))
        }
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else {
            sd_bus_unref(bus)
            return .failure(BusError(call: "pipe", code: -errno))
        }
        for fd in pipe {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        return .success(BusConnection(bus: bus, wake: (pipe[0], pipe[1])))
    }

    private init(bus: OpaquePointer, wake: (Int32, Int32)) {
        self.bus = bus
        (wakeRead, wakeWrite) = wake
    }

    /// Only a connection that never started ends: a started one is held by its thread.
    deinit {
        sd_bus_unref(bus)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Calls `handler` with each signal `interface.member` sent from `path`; only before ``start()``.
    func match(path: String, interface: String, member: String, _ handler: @escaping (_ message: OpaquePointer) -> Void) -> Result<Void, BusError> {
        let box = SignalHandler(handler)
        handlers.append(box)
        let matched = sd_bus_match_signal(
            bus, nil, nil, path, interface, member,
            { message, context, _ in
                if let message { Unmanaged<SignalHandler>.fromOpaque(context!).takeUnretainedValue().handle(message) }
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
        return matched >= 0 ? .success(()) : .failure(BusError(call: "sd_bus_match_signal", code: matched))
    }

    /// Starts the connection's thread, which holds the connection for the life of the process.
    func start() -> Result<Void, BusError> {
        let retained = Unmanaged.passRetained(self)
        guard DetachedThread.start({ retained.takeUnretainedValue().loop() }) else {
            retained.release()
            return .failure(BusError(call: "pthread_create", code: -EAGAIN))
        }
        return .success(())
    }

    /// Runs `job` on the connection's thread.
    func submit(_ job: @escaping Job) {
        jobs.withLock { $0.append(job) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Runs queued work, dispatches what the bus delivered, and sleeps in poll(2) until either has more.
    private func loop() {
        var drain = [UInt8](repeating: 0, count: 64)
        while true {
            for job in jobs.withLock({ jobs in defer { jobs.removeAll() }; return jobs }) { job(bus) }
            var processed: Int32
            repeat { processed = sd_bus_process(bus, nil) } while processed > 0
            if processed < 0 { return }
            let fd = sd_bus_get_fd(bus)
            let events = sd_bus_get_events(bus)
            guard fd >= 0, events >= 0 else { return }
            var fds = [pollfd(fd: fd, events: Int16(events), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let polled = poll(&fds, 2, pollTimeout())
            if polled < 0 && errno != EINTR { return }
            while read(wakeRead, &drain, drain.count) > 0 {}
        }
    }

    /// Milliseconds until sd-bus next needs attention (a call's timeout), or -1 for none.
    private func pollTimeout() -> Int32 {
        var deadline: UInt64 = 0
        guard sd_bus_get_timeout(bus, &deadline) >= 0, deadline != UInt64.max else { return -1 }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let current = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        return deadline <= current ? 0 : Int32(clamping: (deadline - current + 999) / 1000)
    }

    /// A D-Bus type code as sd-bus takes it.
    static func type(_ code: Unicode.Scalar) -> CChar {
        CChar(UInt8(ascii: code))
    }
}

private final class SignalHandler {
    let handle: (OpaquePointer) -> Void

    init(_ handle: @escaping (OpaquePointer) -> Void) {
        self.handle = handle
    }
}

/// A failed sd-bus call.
public struct BusError: Error, Sendable, CustomStringConvertible {
    /// The call that failed.
    public var call: String
    /// Its negative errno.
    public var code: Int32
    /// The D-Bus error's name and message, when the peer answered with one.
    public var detail: String?

    public init(call: String, code: Int32, detail: String? = nil) {
        self.call = call
        self.code = code
        self.detail = detail
    }

    /// "call: reason".
    public var description: String {
        "\(call): \(detail ?? String(cString: strerror(-code)))"
    }
}
