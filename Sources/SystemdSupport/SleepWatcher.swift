import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Listens on the system bus for logind's `PrepareForSleep`: true before the machine suspends, false after it resumes.
public final class SleepWatcher: @unchecked Sendable {
    // The bus is used only by the watcher's own thread once started.
    private let bus: OpaquePointer
    private let prepareForSleep: @Sendable (_ sleeping: Bool) -> Void

    /// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket) and calls
    /// `prepareForSleep` with each signal's argument; fails when there is no system bus, with the reason.
    public static func start(prepareForSleep: @escaping @Sendable (_ sleeping: Bool) -> Void) -> Result<SleepWatcher, BusError> {
        var bus: OpaquePointer?
        let opened = sd_bus_open_system(&bus)
        guard opened >= 0, let bus else { return .failure(BusError(call: "sd_bus_open_system", code: opened)) }
        let watcher = SleepWatcher(bus: bus, prepareForSleep: prepareForSleep)
        let context = Unmanaged.passUnretained(watcher).toOpaque()
        let matched = sd_bus_match_signal(
            bus, nil, nil, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "PrepareForSleep",
            { message, context, _ in
                var sleeping: Int32 = 0
                guard sd_bus_message_read_basic(message, CChar(UInt8(ascii: "b")), &sleeping) >= 0 else { return 0 }
                Unmanaged<SleepWatcher>.fromOpaque(context!).takeUnretainedValue().prepareForSleep(sleeping != 0)
                return 0
            }, context)
        guard matched >= 0 else {
            sd_bus_unref(bus)
            return .failure(BusError(call: "sd_bus_match_signal", code: matched))
        }
        // The watcher lives as long as the process: its thread holds it.
        let retained = Unmanaged.passRetained(watcher)
        guard DetachedThread.start({ retained.takeUnretainedValue().loop() }) else {
            retained.release()
            return .failure(BusError(call: "pthread_create", code: -EAGAIN))
        }
        return .success(watcher)
    }

    private init(bus: OpaquePointer, prepareForSleep: @escaping @Sendable (_ sleeping: Bool) -> Void) {
        self.bus = bus
        self.prepareForSleep = prepareForSleep
    }

    private func loop() {
        while true {
            let processed = sd_bus_process(bus, nil)
            if processed < 0 { return }
            if processed > 0 { continue }
            let waited = sd_bus_wait(bus, UInt64.max)
            if waited < 0 && waited != -EINTR { return }
        }
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
