import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

/// `claude-auth status`: every profile's state, without secrets.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every profile's kind, state and fingerprint (never a secret)."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let (json, status) = try options.client().status()
            if options.json {
                writeOut(json)
                return
            }
            writeOut(Self.table(status))
            if let credential = EnvironmentCredential(environment: options.environment) {
                writeOut("note: \(credential.variable) is set and is used instead of the default profile without --profile\n")
            }
        }
    }

    static func table(_ status: StatusResponse) -> String {
        var rows = [["PROFILE", "KIND", "STATE", "FINGERPRINT", "SOURCE"]]
        for profile in status.profiles {
            rows.append([
                (profile.isDefault ? "*" : " ") + profile.name, profile.kind.rawValue, profile.state.rawValue,
                profile.fingerprint ?? "-", profile.source,
            ])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var text = ""
        for row in rows {
            let cells = row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(to: widths[$0]) }
            text += cells.joined(separator: "  ") + "\n"
        }
        if status.profiles.isEmpty { text += "(no profiles configured in \(status.config.path))\n" }
        for profile in status.profiles where profile.message != nil {
            text += "\(profile.name): \(profile.message!)\n"
        }
        if let error = status.config.lastReloadError { text += "config: last reload refused: \(error)\n" }
        return text
    }
}

extension String {
    func padding(to width: Int) -> String {
        self + String(repeating: " ", count: max(0, width - count))
    }
}
