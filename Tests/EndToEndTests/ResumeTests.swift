import Foundation
import Testing

/// logind's resume signal on the system bus wakes the refresh scheduler.
@Suite("resume from suspend")
struct ResumeTests {
    @Test("PrepareForSleep(false) on the system bus makes the daemon re-check its refresh deadlines at once")
    func prepareForSleep() throws {
        let sandbox = try Sandbox()
        let bus = try PrivateBus(sandbox: sandbox)
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["DBUS_SYSTEM_BUS_ADDRESS": bus.address])
        try bus.emit(path: "/org/freedesktop/login1", member: "org.freedesktop.login1.Manager.PrepareForSleep", ["boolean:true"])
        try bus.emit(path: "/org/freedesktop/login1", member: "org.freedesktop.login1.Manager.PrepareForSleep", ["boolean:false"])
        waitUntil(10) { daemon.log().contains("event=resume") }
        // Going to sleep is not a resume: one of each, in order.
        let events = daemon.log().components(separatedBy: "\n").compactMap { line in
            ["event=suspend", "event=resume"].first { line.contains($0) }
        }
        #expect(events == ["event=suspend", "event=resume"], "\(daemon.log())")
        #expect(daemon.stop() == 0)
    }

    @Test("without a system bus the daemon serves as before")
    func noBus() throws {
        let sandbox = try Sandbox()
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["DBUS_SYSTEM_BUS_ADDRESS": "unix:path=\(sandbox.root)/no-bus"])
        #expect(try sandbox.curl(["http://localhost/v1/health"]).stdout.contains("ok"))
        #expect(daemon.stop() == 0)
    }
}
