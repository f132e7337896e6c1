import CSystemd
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The desktop's notification server (`org.freedesktop.Notifications`) and URL opener
/// (`org.freedesktop.portal.OpenURI`) on the user's session bus, through sd-bus.
///
/// One connection, used only by its own thread: calls are queued to it and answered through callbacks;
/// the server's `ActionInvoked` and `NotificationClosed` signals arrive through `events`.
public final class NotificationBus: @unchecked Sendable {
    /// A signal from the notification server.
    public enum Event: Sendable, Equatable {
        /// The user chose `action` on notification `id`.
        case actionInvoked(id: UInt32, action: String)
        /// Notification `id` was closed: expired (1), dismissed by the user (2), closed by a call (3).
        case closed(id: UInt32, reason: UInt32)
    }

    /// What a notification shows.
    public struct Notification: Sendable {
        public var appName: String
        public var summary: String
        public var body: String
        /// Action keys and their labels, in order; the key `default` is also what clicking the body does.
        public var actions: [(key: String, label: String)]

        public init(appName: String, summary: String, body: String, actions: [(key: String, label: String)]) {
            self.appName = appName
            self.summary = summary
            self.body = body
            self.actions = actions
        }
    }

    private typealias Job = @Sendable (OpaquePointer) -> Void

    private let bus: OpaquePointer
    private let events: @Sendable (Event) -> Void
    private let jobs = Mutex<[Job]>([])
    /// A pipe whose read end the thread polls beside the bus, so queued calls wake it.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Connects to the session bus (`DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`) and starts the
    /// connection's thread; fails when there is no session bus, with the reason.
    public static func connect(events: @escaping @Sendable (Event) -> Void) -> Result<NotificationBus, BusError> {
        var bus: OpaquePointer?
        let opened = sd_bus_open_user(&bus)
        guard opened >= 0, let bus else { return .failure(BusError(call: "sd_bus_open_user", code: opened)) }
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else {
            sd_bus_unref(bus)
            return .failure(BusError(call: "pipe", code: -errno))
        }
        for fd in pipe {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        let connection = NotificationBus(bus: bus, wake: (pipe[0], pipe[1]), events: events)
        let context = Unmanaged.passUnretained(connection).toOpaque()
        for member in ["ActionInvoked", "NotificationClosed"] {
            let matched = sd_bus_match_signal(
                bus, nil, nil, "/org/freedesktop/Notifications", "org.freedesktop.Notifications", member,
                { message, context, _ in
                    guard let message else { return 0 }
                    Unmanaged<NotificationBus>.fromOpaque(context!).takeUnretainedValue().received(message)
                    return 0
                }, context)
            guard matched >= 0 else {
                sd_bus_unref(bus)
                return .failure(BusError(call: "sd_bus_match_signal", code: matched))
            }
        }
        // The connection lives as long as the process: its thread holds it.
        let retained = Unmanaged.passRetained(connection)
        guard DetachedThread.start({ retained.takeUnretainedValue().loop() }) else {
            retained.release()
            return .failure(BusError(call: "pthread_create", code: -EAGAIN))
        }
        return .success(connection)
    }

    private init(bus: OpaquePointer, wake: (Int32, Int32), events: @escaping @Sendable (Event) -> Void) {
        self.bus = bus
        (wakeRead, wakeWrite) = wake
        self.events = events
    }

    /// Shows `notification` until the user acts on it or dismisses it; `reply` gets its id.
    public func notify(_ notification: Notification, reply: @escaping @Sendable (Result<UInt32, BusError>) -> Void) {
        submit { bus in
            let call = MethodCall(
                bus: bus, destination: "org.freedesktop.Notifications", path: "/org/freedesktop/Notifications",
                interface: "org.freedesktop.Notifications", member: "Notify")
            call.append(notification.appName)
            call.append(UInt32(0))  // replaces no earlier notification
            call.append("dialog-password")
            call.append(notification.summary)
            call.append(notification.body)
            call.appendArray(notification.actions.flatMap { [$0.key, $0.label] })
            call.appendEmptyDictionary()
            call.append(Int32(0))  // never expires: it waits for the user
            call.send { result in
                reply(result.flatMap { message in
                    var id: UInt32 = 0
                    let read = sd_bus_message_read_basic(message, Self.type("u"), &id)
                    return read > 0 ? .success(id) : .failure(BusError(call: "Notify", code: read < 0 ? read : -EBADMSG))
                })
            }
        }
    }

    /// Withdraws notification `id`.
    public func close(id: UInt32) {
        submit { bus in
            let call = MethodCall(
                bus: bus, destination: "org.freedesktop.Notifications", path: "/org/freedesktop/Notifications",
                interface: "org.freedesktop.Notifications", member: "CloseNotification")
            call.append(id)
            call.send { _ in }
        }
    }

    /// Asks the desktop portal to open `uri` in the user's browser; fails when there is no portal.
    public func openURI(_ uri: String, reply: @escaping @Sendable (Result<Void, BusError>) -> Void) {
        submit { bus in
            let call = MethodCall(
                bus: bus, destination: "org.freedesktop.portal.Desktop", path: "/org/freedesktop/portal/desktop",
                interface: "org.freedesktop.portal.OpenURI", member: "OpenURI")
            call.append("")  // no parent window
            call.append(uri)
            call.appendEmptyDictionary()
            call.send { result in reply(result.map { _ in () }) }
        }
    }

    private func submit(_ job: @escaping Job) {
        jobs.withLock { $0.append(job) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func received(_ message: OpaquePointer) {
        var id: UInt32 = 0
        guard sd_bus_message_read_basic(message, Self.type("u"), &id) > 0 else { return }
        if sd_bus_message_is_signal(message, nil, "ActionInvoked") > 0 {
            var action: UnsafePointer<CChar>?
            guard sd_bus_message_read_basic(message, Self.type("s"), &action) > 0, let action else { return }
            events(.actionInvoked(id: id, action: String(cString: action)))
        } else {
            var reason: UInt32 = 0
            guard sd_bus_message_read_basic(message, Self.type("u"), &reason) > 0 else { return }
            events(.closed(id: id, reason: reason))
        }
    }

    /// Runs queued calls, dispatches what the bus delivered, and sleeps in poll(2) until either has more.
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

    fileprivate static func type(_ code: Unicode.Scalar) -> CChar {
        CChar(UInt8(ascii: code))
    }
}

/// A method call being built on the bus's own thread, then sent without waiting for the reply.
private struct MethodCall {
    private let bus: OpaquePointer
    private let message: OpaquePointer?
    private let member: String

    init(bus: OpaquePointer, destination: String, path: String, interface: String, member: String) {
        self.bus = bus
        self.member = member
        var message: OpaquePointer?
        _ = sd_bus_message_new_method_call(bus, &message, destination, path, interface, member)
        self.message = message
    }

    func append(_ string: String) {
        _ = string.withCString { sd_bus_message_append_basic(message, NotificationBus.type("s"), $0) }
    }

    func append(_ value: UInt32) {
        var value = value
        _ = sd_bus_message_append_basic(message, NotificationBus.type("u"), &value)
    }

    func append(_ value: Int32) {
        var value = value
        _ = sd_bus_message_append_basic(message, NotificationBus.type("i"), &value)
    }

    func appendArray(_ strings: [String]) {
        _ = sd_bus_message_open_container(message, NotificationBus.type("a"), "s")
        strings.forEach(append)
        _ = sd_bus_message_close_container(message)
    }

    func appendEmptyDictionary() {
        _ = sd_bus_message_open_container(message, NotificationBus.type("a"), "{sv}")
        _ = sd_bus_message_close_container(message)
    }

    /// Sends the call; `reply` runs on the bus's thread with the reply message, or the error.
    func send(_ reply: @escaping (Result<OpaquePointer, BusError>) -> Void) {
        guard let message else { return reply(.failure(BusError(call: member, code: -ENOMEM))) }
        defer { sd_bus_message_unref(message) }
        let box = Unmanaged.passRetained(ReplyBox(member: member, reply: reply)).toOpaque()
        let sent = sd_bus_call_async(bus, nil, message, { message, context, _ in
            let box = Unmanaged<ReplyBox>.fromOpaque(context!).takeRetainedValue()
            guard let message else { return 0 }
            if let error = sd_bus_message_get_error(message) {
                let detail = [error.pointee.name, error.pointee.message].compactMap { $0.map { String(cString: $0) } }.joined(separator: ": ")
                box.reply(.failure(BusError(call: box.member, code: -sd_bus_message_get_errno(message), detail: detail)))
            } else {
                box.reply(.success(message))
            }
            return 0
        }, box, 25_000_000)
        if sent < 0 {
            Unmanaged<ReplyBox>.fromOpaque(box).release()
            reply(.failure(BusError(call: member, code: sent)))
        }
    }
}

private final class ReplyBox {
    let member: String
    let reply: (Result<OpaquePointer, BusError>) -> Void

    init(member: String, reply: @escaping (Result<OpaquePointer, BusError>) -> Void) {
        self.member = member
        self.reply = reply
    }
}
