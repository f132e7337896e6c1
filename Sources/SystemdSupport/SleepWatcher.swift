import CSystemd

/// Listens on the system bus for logind's `PrepareForSleep`: true before the machine suspends, false after it resumes.
public enum SleepWatcher {
    /// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket) and calls
    /// `prepareForSleep` with each signal's argument, on the connection's thread, for the life of the process;
    /// fails when there is no system bus, with the reason.
    public static func start(prepareForSleep: @escaping @Sendable (_ sleeping: Bool) -> Void) -> Result<Void, BusError> {
        BusConnection.open(.system).flatMap { connection in
            connection.match(path: "/org/freedesktop/login1", interface: "org.freedesktop.login1.Manager", member: "PrepareForSleep") { message in
                var sleeping: Int32 = 0
                guard sd_bus_message_read_basic(message, BusConnection.type("b"), &sleeping) >= 0 else { return }
                prepareForSleep(sleeping != 0)
            }
            .flatMap { connection.start() }
        }
    }
}
