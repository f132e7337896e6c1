import Foundation
import Testing

/// The shipped systemd units, checked by systemd's own verifier.
@Suite("systemd units")
struct UnitFileTests {
    @Test("systemd-analyze --user verify reports nothing for the four units")
    func verify() throws {
        let analyze = try #require(which("systemd-analyze"))
        let sandbox = try Sandbox()
        let directory = sandbox.root + "/units"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let units = ["claude-authd.socket", "claude-authd-proxy.socket", "claude-authd-remote.socket", "claude-authd.service"]
        for unit in units {
            var text = try String(contentsOfFile: Binaries.repositoryRoot + "/systemd/" + unit, encoding: .utf8)
            // As `make install` does: point ExecStart at the installed binary.
            text = text.replacingOccurrences(of: "ExecStart=%h/.local/bin/claude-authd", with: "ExecStart=\(Binaries.daemon)")
            try text.write(toFile: directory + "/" + unit, atomically: true, encoding: .utf8)
        }
        let result = try runCommand(
            analyze, ["--user", "verify"] + units.map { directory + "/" + $0 },
            environment: sandbox.environment())
        #expect(result.status == 0)
        // systemd-analyze exits 0 even on warnings: any output is a failure.
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.isEmpty)
    }

    @Test("the service is Type=notify with a reload command; the socket is private")
    func contract() throws {
        let service = try String(contentsOfFile: Binaries.repositoryRoot + "/systemd/claude-authd.service", encoding: .utf8)
        let socket = try String(contentsOfFile: Binaries.repositoryRoot + "/systemd/claude-authd.socket", encoding: .utf8)
        #expect(service.contains("\nType=notify\n"))
        #expect(service.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"))
        #expect(service.contains("\nReadWritePaths=%h/.local/state/claude-auth\n"))
        #expect(service.contains("\nLimitCORE=0\n"))
        #expect(socket.contains("\nListenStream=%t/claude-auth/socket\n"))
        #expect(socket.contains("\nSocketMode=0600\n"))
        #expect(socket.contains("\nDirectoryMode=0700\n"))
        let proxy = try String(contentsOfFile: Binaries.repositoryRoot + "/systemd/claude-authd-proxy.socket", encoding: .utf8)
        #expect(proxy.contains("\nListenStream=127.0.0.1:8787\n") && proxy.contains("\nService=claude-authd.service\n"))
        #expect(service.contains("AF_NETLINK"))
    }
}
