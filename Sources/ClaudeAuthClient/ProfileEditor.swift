#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

#if canImport(Glibc)
import Glibc
#endif

/// `add-profile` and `remove-profile`: edits `config.toml` as text it did not write, appending or cutting one table
/// and leaving every other byte as it was (comments included), and checks the result with the daemon's own loader
/// (`claude-authd --check-config`) before renaming it into place.
public struct ProfileEditor: Sendable {
    /// The configuration file.
    public var configPath: String
    /// `claude-authd`, whose `--check-config` judges the result.
    public var daemonExecutable: String

    /// Creates an editor of `configPath`.
    public init(configPath: String, daemonExecutable: String) {
        self.configPath = configPath
        self.daemonExecutable = daemonExecutable
    }

    /// An `api-key` profile's table: the key from `keyEnv`, else from `keyFile`, else stored by `set-key`.
    public static func apiKeyTable(_ name: String, keyEnv: String?, keyFile: String?) -> String {
        var table = "[profiles.\(name)]\nkind = \"api-key\"\n"
        if let keyEnv { table += "key_env = \(quoted(keyEnv))\n" }
        if let keyFile { table += "key_file = \(quoted(keyFile))\n" }
        return table
    }

    /// An `oauth` profile's table whose endpoints come from the issuer's metadata.
    public static func oauthTable(_ name: String, issuer: String, clientID: String, scopes: [String], redirectPort: Int?) -> String {
        var table = "[profiles.\(name)]\nkind = \"oauth\"\nissuer = \(quoted(issuer))\nclient_id = \(quoted(clientID))\n"
        if !scopes.isEmpty { table += "scopes = [\(scopes.map(quoted).joined(separator: ", "))]\n" }
        if let redirectPort { table += "redirect_port = \(redirectPort)\n" }
        return table
    }

    /// `text` with `table` appended after a blank line, and, with `asDefault`, `default_profile` naming `name`: its
    /// line replaced where the file has one, else put first.
    public static func adding(_ table: String, name: String, asDefault: Bool, to text: String) -> String {
        var result = text
        if !result.isEmpty && !result.hasSuffix("\n") { result += "\n" }
        if !result.isEmpty { result += "\n" }
        result += table
        guard asDefault else { return result }
        let line = "default_profile = \(quoted(name))"
        var lines = result.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let firstTable = lines.firstIndex { isHeader($0) } ?? lines.endIndex
        if let existing = lines[..<firstTable].firstIndex(where: { $0.drop { $0 == " " || $0 == "\t" }.hasPrefix("default_profile") }) {
            lines[existing] = line
            return lines.joined(separator: "\n")
        }
        return line + "\n" + result
    }

    /// `text` without profile `name`'s table and its sub-tables (`[profiles.NAME.headers]`); nil when it has none.
    public static func removing(_ name: String, from text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let heads = ["[profiles.\(name)]", "[profiles.\"\(name)\"]"]
        let subtables = ["[profiles.\(name).", "[profiles.\"\(name)\"."]
        func trimmed(_ line: String) -> String { String(line.drop { $0 == " " || $0 == "\t" }) }
        guard let start = lines.firstIndex(where: { line in heads.contains { trimmed(line).hasPrefix($0) } }) else { return nil }
        var end = start + 1
        while end < lines.count, !isHeader(lines[end]) || subtables.contains(where: { trimmed(lines[end]).hasPrefix($0) }) { end += 1 }
        return (lines[..<start] + lines[end...]).joined(separator: "\n")
    }

    /// Reads the file (empty when missing), applies `change`, checks the result as the daemon would load it, runs
    /// `beforeReplacing`, and renames the result into place (0600, its directory made 0700 when missing). A refused
    /// result, or a failure of `beforeReplacing`, leaves the file as it was.
    public func apply(_ change: (String) throws(ClientError) -> String, beforeReplacing: () throws(ClientError) -> Void = {}) throws(ClientError) {
        let directory = String(configPath[..<(configPath.lastIndex(of: "/") ?? configPath.startIndex)])
        let current: String
        if let bytes = FileManager.default.contents(atPath: configPath) {
            current = String(decoding: bytes, as: UTF8.self)
        } else if access(configPath, F_OK) == 0 {
            throw ClientError(exitCode: 73, message: "cannot read \(configPath)")
        } else {
            current = ""
        }
        let changed = try change(current)
        if !directory.isEmpty, access(directory, F_OK) != 0 {
            guard (try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])) != nil
            else { throw ClientError(exitCode: 73, message: "cannot create \(directory)") }
        }
        let temporary = "\(configPath).new-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw ClientError(exitCode: 73, message: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(changed.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { break }
            offset += written
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard offset == bytes.count, synced else {
            unlink(temporary)
            throw ClientError(exitCode: 73, message: "cannot write \(temporary)")
        }
        let (status, output) = Subprocess.run([daemonExecutable, "--check-config", "--config", temporary])
        guard status == 0 else {
            unlink(temporary)
            var text = output.split(separator: "\n").last.map(String.init) ?? "refused"
            if text.hasPrefix("claude-authd: ") { text.removeFirst("claude-authd: ".count) }
            throw ClientError(exitCode: 78, message: "the result would not load, so \(configPath) is left as it was: " + text.replacing(temporary, with: configPath))
        }
        do throws(ClientError) {
            try beforeReplacing()
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, configPath) == 0 else {
            unlink(temporary)
            throw ClientError(exitCode: 73, message: "cannot replace \(configPath): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether a line opens a table.
    private static func isHeader(_ line: String) -> Bool {
        line.drop { $0 == " " || $0 == "\t" }.hasPrefix("[")
    }

    /// A TOML basic string.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
