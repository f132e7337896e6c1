#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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
            writeOut(Self.table(status, now: Date()))
            if let credential = EnvironmentCredential(environment: options.environment) {
                writeOut("note: \(credential.variable) is set and is used instead of the default profile without --profile\n")
            }
        }
    }

    static func table(_ status: StatusResponse, now: Date) -> String {
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
        for profile in status.profiles {
            if let message = profile.message { text += "\(profile.name): \(message)\n" }
            if let refresh = profile.refresh { text += "\(profile.name): \(Self.timeline(refresh, now: now))\n" }
            if let sdk = profile.sdkProfile {
                text += "\(profile.name): SDK profile \(sdk.name) in \(sdk.credentialsFile)" + (sdk.error.map { ": not written: \($0)" } ?? "") + "\n"
            }
            if let proxy = profile.proxy {
                text += "\(profile.name): proxied \(proxy.requests) requests, \(proxy.replays) replayed after a 401, \(proxy.upstreamErrors) upstream errors\n"
            }
        }
        if let proxy = status.proxy {
            text += "proxy: " + (proxy.listen.map { "http://\($0)" } ?? "no TCP listener") + ", and /proxy/ on the socket; default profile \(proxy.profile)\n"
        }
        if let error = status.config.lastReloadError { text += "config: last reload refused: \(error)\n" }
        return text
    }
}

extension StatusCommand {
    /// "expires in 45m (2026-…Z); next refresh in 30m; last refresh succeeded 2m ago".
    static func timeline(_ refresh: RefreshStatus, now: Date) -> String {
        var parts: [String] = []
        if let expiry = refresh.expiresAt {
            let left = expiry.timeIntervalSince(now)
            parts.append((left > 0 ? "expires in \(duration(left))" : "expired \(duration(-left)) ago") + " (\(expiry.formatted(.iso8601)))")
        } else {
            parts.append("no expiry given")
        }
        if refresh.refreshing {
            parts.append("refreshing now")
        } else if let next = refresh.nextRefreshAt {
            parts.append("next \(refresh.consecutiveFailures > 0 ? "retry" : "refresh") in \(duration(max(0, next.timeIntervalSince(now))))")
        }
        if let last = refresh.last {
            parts.append("last refresh \(last.result) \(duration(max(0, now.timeIntervalSince(last.at)))) ago" + (last.message.map { ": \($0)" } ?? ""))
        }
        if refresh.consecutiveFailures > 0 { parts.append("\(refresh.consecutiveFailures) failures in a row") }
        return parts.joined(separator: "; ")
    }

    /// A short duration: 42s, 5m, 3h12m, 2d4h.
    static func duration(_ seconds: Double) -> String {
        let total = Int(clampingSeconds: seconds)
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return "\(total / 60)m"
        case ..<86400: return "\(total / 3600)h\(total % 3600 / 60)m"
        default: return "\(total / 86400)d\(total % 86400 / 3600)h"
        }
    }
}

extension String {
    func padding(to width: Int) -> String {
        self + String(repeating: " ", count: max(0, width - count))
    }
}
