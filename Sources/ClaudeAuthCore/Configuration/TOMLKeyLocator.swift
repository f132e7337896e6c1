/// Finds where a key stands in a TOML document, for error messages.
///
/// TOMLKit reports positions for syntax errors only; semantic errors (an unknown key, a wrong type) are
/// located by this scan of table headers and key assignments. It is a best effort: a key it cannot find
/// is reported at its closest enclosing table.
struct TOMLKeyLocator {
    /// A 1-based line and column.
    struct Position: Equatable {
        var line: Int
        var column: Int
    }

    private var entries: [(path: [String], position: Position)] = []

    init(source: String) {
        var table: [String] = []
        for (index, rawLine) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let indent = rawLine.prefix { $0 == " " || $0 == "\t" }.count
            let line = rawLine.dropFirst(indent)
            let position = Position(line: index + 1, column: indent + 1)
            if line.hasPrefix("[") {
                let inner = line.drop { $0 == "[" }.prefix { $0 != "]" }
                table = Self.keyPath(inner)
                entries.append((table, position))
            } else if let equals = Self.assignment(in: line) {
                entries.append((table + Self.keyPath(line[..<equals]), position))
            }
        }
    }

    /// Where `path` is assigned or opened, else where its closest enclosing table is.
    func position(of path: [String]) -> Position? {
        var best: (length: Int, position: Position)?
        for entry in entries where entry.path.count <= path.count && Array(path.prefix(entry.path.count)) == entry.path {
            if entry.path.count == path.count { return entry.position }
            if entry.path.count > (best?.length ?? -1) { best = (entry.path.count, entry.position) }
        }
        return best?.position
    }

    /// The index of the `=` of a key assignment, skipping quoted keys; nil for comments and other lines.
    private static func assignment(in line: Substring) -> Substring.Index? {
        guard let first = line.first, first != "#" else { return nil }
        var quote: Character?
        for index in line.indices {
            let character = line[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "=" {
                return index
            }
        }
        return nil
    }

    /// Splits a dotted key (`a."b.c".d`) into its parts, without quotes or surrounding spaces.
    private static func keyPath(_ key: Substring) -> [String] {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for character in key {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "." {
                parts.append(current.trimmingSpaces)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current.trimmingSpaces)
        return parts
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
