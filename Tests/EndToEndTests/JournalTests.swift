import Foundation
import Testing

/// The daemon's journal output, through the real native protocol (`sd_journal_sendv`).
///
/// In a private mount namespace a directory of the test's is bound over /run/systemd, so the daemon's
/// /run/systemd/journal/socket is a datagram socket the test reads. `JOURNAL_STREAM` names the daemon's
/// stderr file, as systemd sets it for a service whose output goes to the journal.
@Suite("journal logging")
struct JournalTests {
    static let key = "sk-ant-api03-JOURNAL-0008"

    @Test("under systemd the daemon logs to the journal with PROFILE=, EVENT= and FINGERPRINT= fields, never a secret")
    func structuredFields() throws {
        guard getuid() == 0, let unshare = which("unshare"),
            (try? runCommand(unshare, ["--mount", "true"], environment: [:]).status) == 0
        else {
            Issue.record("this test needs root and unshare --mount to stand in for journald")
            return
        }
        let sandbox = try Sandbox()
        try sandbox.writeConfig("[profiles.stored]\nkind = \"api-key\"\n")
        let runSystemd = sandbox.root + "/run-systemd"
        try FileManager.default.createDirectory(atPath: runSystemd + "/journal", withIntermediateDirectories: true)
        let journal = try NotifySocket(path: runSystemd + "/journal/socket")
        let stderrPath = sandbox.root + "/stderr"
        let stderrFD = try openOutput(stderrPath)
        var info = stat()
        fstat(stderrFD, &info)
        close(stderrFD)

        let daemon = try DaemonProcess(
            sandbox: sandbox,
            environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino)"],
            launch: .wrapped(
                executable: unshare,
                prefix: ["--mount", "/bin/sh", "-c", "mount --bind \"$0\" /run/systemd && exec \"$@\"", runSystemd],
                stderr: stderrPath)
        )
        let ready = try #require(journal.receive(timeout: 10).map(Self.fields))
        #expect(ready["MESSAGE"]?.hasPrefix("serving the socket API") == true)
        #expect(ready["SYSLOG_IDENTIFIER"] == "claude-authd")
        #expect(ready["PRIORITY"] == "6")
        #expect(ready["EVENT"] == "ready")

        #expect(try sandbox.client(["set-key", "--profile", "stored"], stdin: Self.key).status == 0)
        let stored = try #require(journal.receive(timeout: 10))
        let fields = Self.fields(stored)
        #expect(fields["EVENT"] == "key_stored")
        #expect(fields["PROFILE"] == "stored")
        #expect(fields["FINGERPRINT"] == String(sha256Hex(Self.key).prefix(12)))
        #expect(!stored.contains(Self.key))

        #expect(daemon.stop() == 0)
        // Everything went to the journal, nothing to stderr.
        #expect(try String(contentsOfFile: stderrPath, encoding: .utf8).isEmpty)
    }

    /// Parses the journal's native protocol for single-line values: `NAME=value` lines.
    static func fields(_ datagram: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in datagram.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return fields
    }
}
