import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// The desktop's notification server (`org.freedesktop.Notifications`) and URL opener
/// (`org.freedesktop.portal.OpenURI`) on the user's session bus, through sd-bus.
///
/// One connection, used only by its own thread: calls are queued to it and answered through callbacks;
/// the server's `ActionInvoked` and `NotificationClosed` signals arrive through `events`.
public final class NotificationBus: Sendable {
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

    private let connection: BusConnection
    private let events: @Sendable (Event) -> Void

    /// Connects to the session bus (`DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`) and starts the
    /// connection's thread; fails when there is no session bus, with the reason.
    public static func connect(events: @escaping @Sendable (Event) -> Void) -> Result<NotificationBus, BusError> {
        BusConnection.open(.user).flatMap { connection in
            let notifications = NotificationBus(connection: connection, events: events)
            for member in ["ActionInvoked", "NotificationClosed"] {
                let matched = connection.match(path: "/org/freedesktop/Notifications", interface: "org.freedesktop.Notifications", member: member) {
                    [weak notifications] in notifications?.received($0)
                }
                if case .failure(let error) = matched { return .failure(error) }
            }
            return connection.start().map { notifications }
        }
    }

    private init(connection: BusConnection, events: @escaping @Sendable (Event) -> Void) {
        self.connection = connection
        self.events = events
    }

    /// Shows `notification` until the user acts on it or dismisses it; `reply` gets its id.
    public func notify(_ notification: Notification, reply: @escaping @Sendable (Result<UInt32, BusError>) -> Void) {
        connection.submit { bus in
            let call = MethodCall.notifications(bus, "Notify")
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
                    let read = sd_bus_message_read_basic(message, BusConnection.type("u"), &id)
                    return read > 0 ? .success(id) : .failure(BusError(call: "Notify", code: read < 0 ? read : -EBADMSG))
                })
            }
        }
    }

    /// Withdraws notification `id`.
    public func close(id: UInt32) {
        connection.submit { bus in
            let call = MethodCall.notifications(bus, "CloseNotification")
            call.append(id)
            call.send { _ in }
        }
    }

    /// Asks the desktop portal to open `uri` in the user's browser; fails when there is no portal.
    public func openURI(_ uri: String, reply: @escaping @Sendable (Result<Void, BusError>) -> Void) {
        connection.submit { bus in
            let call = MethodCall(
                bus: bus, destination: "org.freedesktop.portal.Desktop", path: "/org/freedesktop/portal/desktop",
                interface: "org.freedesktop.portal.OpenURI", member: "OpenURI")
            call.append("")  // no parent window
            call.append(uri)
            call.appendEmptyDictionary()
            call.send { result in reply(result.map { _ in () }) }
        }
    }

    private func received(_ message: OpaquePointer) {
        var id: UInt32 = 0
        guard sd_bus_message_read_basic(message, BusConnection.type("u"), &id) > 0 else { return }
        if sd_bus_message_is_signal(message, nil, "ActionInvoked") > 0 {
            var action: UnsafePointer<CChar>?
            guard sd_bus_message_read_basic(message, BusConnection.type("s"), &action) > 0, let action else { return }
            events(.actionInvoked(id: id, action: String(cString: action)))
        } else {
            var reason: UInt32 = 0
            guard sd_bus_message_read_basic(message, BusConnection.type("u"), &reason) > 0 else { return }
            events(.closed(id: id, reason: reason))
        }
    }
}

/// A method call being built on the bus's own thread, then sent without waiting for the reply.
private struct MethodCall {
    private let bus: OpaquePointer
    private let message: OpaquePointer?
    private let member: String

    /// A call to the desktop's notification server.
    static func notifications(_ bus: OpaquePointer, _ member: String) -> MethodCall {
        MethodCall(
            bus: bus, destination: "org.freedesktop.Notifications", path: "/org/freedesktop/Notifications",
            interface: "org.freedesktop.Notifications", member: member)
    }

    init(bus: OpaquePointer, destination: String, path: String, interface: String, member: String) {
        self.bus = bus
        self.member = member
        var message: OpaquePointer?
        _ = sd_bus_message_new_method_call(bus, &message, destination, path, interface, member)
        self.message = message
    }

    func append(_ string: String) {
        _ = string.withCString { sd_bus_message_append_basic(message, BusConnection.type("s"), $0) }
    }

    func append(_ value: UInt32) {
        var value = value
        _ = sd_bus_message_append_basic(message, BusConnection.type("u"), &value)
    }

    func append(_ value: Int32) {
        var value = value
        _ = sd_bus_message_append_basic(message, BusConnection.type("i"), &value)
    }

    func appendArray(_ strings: [String]) {
        _ = sd_bus_message_open_container(message, BusConnection.type("a"), "s")
        strings.forEach(append)
        _ = sd_bus_message_close_container(message)
    }

    func appendEmptyDictionary() {
        _ = sd_bus_message_open_container(message, BusConnection.type("a"), "{sv}")
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
