import ArgumentParser
import ClaudeAuthClient

#if canImport(Glibc)
import Glibc
#endif

/// `claude-auth doctor`: checks the set-up and says what to fix.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the socket, permissions, daemon, configuration, units and environment; say what to fix."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let doctor = Doctor(
                socket: try options.socketLocation(), environment: options.environment, daemonExecutable: options.daemonExecutable())
            let findings = doctor.run()
            for finding in findings {
                writeOut("\(Self.mark(finding.severity)) \(finding.message)\n")
            }
            if let failure = findings.first(where: { $0.severity == .failure }) {
                throw ClientError(exitCode: failure.exitCode, message: "doctor found problems; fix the lines marked FAIL")
            }
        }
    }

    private static func mark(_ severity: Doctor.Finding.Severity) -> String {
        switch severity {
        case .ok: "ok  "
        case .warning: "WARN"
        case .failure: "FAIL"
        }
    }

    /// `claude-authd` beside this executable, else on PATH.
}
