#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

/// How `claude-auth header` prints headers.
public enum HeaderFormat: String, CaseIterable, Sendable {
    /// `Name: value` lines: `claude-auth header | curl -H @- …`.
    case http
    /// A curl config file: `curl -K <(claude-auth header --format curl) …` keeps the secret out of argv.
    case curl
    /// A JSON object of name to value.
    case json

    /// Renders `fields` in this format, ending with a newline.
    public func render(_ fields: [HeaderField]) -> String {
        switch self {
        // Appended line by line: `joined()` would cost the client's start-up a runtime conformance lookup.
        case .http:
            return fields.reduce(into: "") { $0 += $1.name + ": " + $1.value + "\n" }
        case .curl:
            return fields.reduce(into: "") { $0 += "header = \"" + Self.curlQuoted($1.name + ": " + $1.value) + "\"\n" }
        case .json:
            let object = Dictionary(fields.map { ($0.name, $0.value) }) { $1 }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(object)) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }

    /// Parses the daemon's `Name: value` lines back into fields.
    public static func parse(_ text: [UInt8]) -> [HeaderField] {
        String(decoding: text, as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " }
            return HeaderField(name: String(line[..<colon]), value: String(value))
        }
    }

    private static func curlQuoted(_ text: String) -> String {
        var quoted = ""
        for character in text {
            if character == "\\" || character == "\"" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted
    }
}
