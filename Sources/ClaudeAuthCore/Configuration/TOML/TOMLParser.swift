/// A TOML 1.0 parser over UTF-8 bytes that throws a ``TOMLError`` for every invalid input, never traps.
///
/// Tables are built in an arena of ``Node``s, so that headers and dotted keys can reopen them, and are
/// turned into ``TOMLTable`` values at the end. Inline tables and arrays are values as soon as they are
/// parsed, which makes them immutable.
struct TOMLParser {
    /// The deepest nesting of tables and arrays accepted; deeper documents are errors, not stack overflows.
    static let maximumDepth = 64

    /// How a table came to be, which decides what may reopen it.
    enum Origin {
        /// Implied by a header such as `[a.b]` for `a`: a later `[a]` or dotted key may still define it.
        case implied
        /// Defined by a header, an array of tables element, or braces: only headers may add sub-tables.
        case header
        /// Created by a dotted key such as `a.b = 1` for `a`: dotted keys may add to it.
        case dotted
    }

    /// What a key of a table under construction holds.
    enum Slot {
        /// A finished value, including inline tables and arrays.
        case value(TOMLValue)
        /// A table in ``nodes``.
        case table(Int)
        /// An array of tables: its element list in ``arrays``, and its last element in ``nodes``.
        case tables(list: Int, last: Int)
    }

    /// A key of a table under construction.
    struct Entry {
        var slot: Slot
        var position: TOMLPosition
    }

    /// A table under construction.
    struct Node {
        var origin: Origin
        var position: TOMLPosition?
        var depth: Int
        var keys: [String] = []
        var entries: [String: Entry] = [:]
    }

    /// One part of a dotted key, as written.
    struct KeyPart {
        var name: String
        var position: TOMLPosition
    }

    let bytes: [UInt8]
    var index = 0
    var nodes = [Node(origin: .header, position: nil, depth: 0)]
    var arrays: [[Int]] = []
    var locator: Locator

    /// Creates a parser for a document.
    init(bytes: [UInt8]) {
        self.bytes = bytes
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        locator = Locator(start: index)
    }

    /// Parses the whole document into its root table.
    mutating func parse() throws(TOMLError) -> TOMLTable {
        try validateUTF8()
        var current = 0
        while true {
            skipSpaces()
            guard let byte = peek() else { break }
            switch byte {
            case UInt8(ascii: "["): current = try parseHeader()
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): break
            default: try parseKeyValue(into: current)
            }
            try endLine()
        }
        return table(0)
    }

    // MARK: Bytes and positions

    /// The byte `ahead` bytes past the current one, or nil past the end.
    func peek(_ ahead: Int = 0) -> UInt8? {
        index + ahead < bytes.count ? bytes[index + ahead] : nil
    }

    /// Whether `byte` is a control character TOML refuses in strings and comments (all but tab).
    static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
    }

    /// The position of the byte at `offset`, the current one by default.
    mutating func position(at offset: Int? = nil) -> TOMLPosition {
        locator.position(at: offset ?? index, in: bytes)
    }

    /// An error at `offset`, the current byte by default.
    mutating func failure(_ message: String, at offset: Int? = nil) -> TOMLError {
        TOMLError(position: position(at: offset), message: message)
    }

    /// The current character for messages: `"!"`, `a newline`, `end of input`.
    func found() -> String {
        guard let byte = peek() else { return "end of input" }
        if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") { return "a newline" }
        if Self.isControl(byte) { return "control character \(Self.codePoint(UInt32(byte)))" }
        let length = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
        return "\"\(String(decoding: bytes[index..<min(index + length, bytes.count)], as: UTF8.self))\""
    }

    /// `U+XXXX` for `value`.
    static func codePoint(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// Rejects input that is not UTF-8, so that slices of it decode losslessly.
    mutating func validateUTF8() throws(TOMLError) {
        var offset = index
        var iterator = bytes[index...].makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return
            case .error: throw failure("invalid UTF-8", at: offset)
            }
        }
    }

    // MARK: Whitespace, comments and newlines

    /// Skips spaces and tabs.
    mutating func skipSpaces() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// Skips a comment, if one starts here, up to its newline.
    mutating func skipComment() throws(TOMLError) {
        guard peek() == UInt8(ascii: "#") else { return }
        index += 1
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { return }
            if Self.isControl(byte) {
                throw failure("control character \(Self.codePoint(UInt32(byte))) is not allowed in a comment")
            }
            index += 1
        }
    }

    /// Consumes `\n` or `\r\n`, returning false when neither is next.
    mutating func consumeNewline() throws(TOMLError) -> Bool {
        switch peek() {
        case UInt8(ascii: "\n"):
            index += 1
        case UInt8(ascii: "\r"):
            guard peek(1) == UInt8(ascii: "\n") else {
                throw failure("a carriage return must be followed by a newline")
            }
            index += 2
        default:
            return false
        }
        return true
    }

    /// Skips spaces, comments and newlines, as arrays allow between elements.
    mutating func skipBlankLines() throws(TOMLError) {
        repeat {
            skipSpaces()
            try skipComment()
        } while try consumeNewline()
    }

    /// Ends an expression: spaces, a comment, then a newline or the end of the input.
    mutating func endLine() throws(TOMLError) {
        skipSpaces()
        try skipComment()
        guard peek() != nil else { return }
        guard try consumeNewline() else { throw failure("expected a newline, found \(found())") }
    }

    // MARK: Keys

    /// Parses a key, dotted or not, and the spaces after it.
    mutating func parseKey() throws(TOMLError) -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            skipSpaces()
            let position = position()
            let name: String
            switch peek() {
            case UInt8(ascii: "\""): name = try parseBasicString(allowingMultiline: false)
            case UInt8(ascii: "'"): name = try parseLiteralString(allowingMultiline: false)
            default:
                let start = index
                while let byte = peek(), Self.isBareKey(byte) { index += 1 }
                guard index > start else { throw failure("expected a key, found \(found())") }
                name = String(decoding: bytes[start..<index], as: UTF8.self)
            }
            parts.append(KeyPart(name: name, position: position))
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return parts }
            index += 1
        }
    }

    /// Whether `byte` may appear in a bare key.
    static func isBareKey(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// Writes key parts for messages: bare where possible, else quoted.
    static func render(_ parts: some Collection<KeyPart>) -> String {
        parts.map { part in
            let name = part.name
            if !name.isEmpty, name.utf8.allSatisfy(isBareKey) { return name }
            if name.utf8.contains(where: { $0 == UInt8(ascii: "'") || isControl($0) }) { return name.debugDescription }
            return "'\(name)'"
        }.joined(separator: ".")
    }

    // MARK: Tables

    /// Parses `[key]` or `[[key]]`, returning the table that the following key/value pairs fill.
    mutating func parseHeader() throws(TOMLError) -> Int {
        let position = position()
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        let key = try parseKey()
        guard peek() == UInt8(ascii: "]"), !isArray || peek(1) == UInt8(ascii: "]") else {
            throw failure("expected \"\(isArray ? "]]" : "]")\", found \(found())")
        }
        index += isArray ? 2 : 1
        return try openTable(key, isArray: isArray, at: position)
    }

    /// Finds or creates the table a header names, enforcing the rules against redefinition.
    mutating func openTable(_ key: [KeyPart], isArray: Bool, at position: TOMLPosition) throws(TOMLError) -> Int {
        var table = 0
        for (offset, part) in key.dropLast().enumerated() {
            switch nodes[table].entries[part.name]?.slot {
            case nil: table = try addTable(part.name, to: table, origin: .implied, at: position)
            case .table(let child): table = child
            case .tables(_, let last): table = last
            case .value(let value): throw Self.cannotExtend(value, named: Self.render(key[...offset]), at: position)
            }
        }
        guard let part = key.last else { return table }
        switch (nodes[table].entries[part.name]?.slot, isArray) {
        case (nil, false):
            return try addTable(part.name, to: table, origin: .header, at: position)
        case (nil, true):
            let element = try newNode(origin: .header, at: position, under: table)
            arrays.append([element])
            add(part.name, .tables(list: arrays.count - 1, last: element), to: table, at: position)
            return element
        case (.table(let child), false) where nodes[child].origin == .implied:
            nodes[child].origin = .header
            nodes[child].position = position
            nodes[table].entries[part.name]?.position = position
            return child
        case (.tables(let list, _), true):
            let element = try newNode(origin: .header, at: position, under: table)
            arrays[list].append(element)
            nodes[table].entries[part.name]?.slot = .tables(list: list, last: element)
            return element
        case (.table, false), (.value(.table), false):
            throw TOMLError(position: position, message: "table [\(Self.render(key))] is already defined")
        case (.tables, false):
            let message = "table [\(Self.render(key))] is already defined as an array of tables"
            throw TOMLError(position: position, message: message)
        case (.table, true):
            throw TOMLError(position: position, message: "table [\(Self.render(key))] is not an array of tables")
        case (.value(let value), _):
            throw Self.cannotExtend(value, named: Self.render(key), at: position)
        }
    }

    /// Parses `key = value` and defines it in `table`.
    mutating func parseKeyValue(into table: Int) throws(TOMLError) {
        let key = try parseKey()
        guard peek() == UInt8(ascii: "=") else { throw failure("expected \"=\" after a key, found \(found())") }
        index += 1
        skipSpaces()
        let value = try parseValue(depth: nodes[table].depth + key.count)
        try define(key, value, in: table)
    }

    /// Defines a dotted key in `table`, creating or extending the tables its parts name.
    mutating func define(_ key: [KeyPart], _ value: TOMLValue, in base: Int) throws(TOMLError) {
        guard let start = key.first?.position, let part = key.last else { return }
        var table = base
        for (offset, part) in key.dropLast().enumerated() {
            let name = { Self.render(key[...offset]) }
            switch nodes[table].entries[part.name]?.slot {
            case nil:
                table = try addTable(part.name, to: table, origin: .dotted, at: part.position)
            case .table(let child) where nodes[child].origin == .dotted:
                table = child
            case .table(let child) where nodes[child].origin == .implied:
                nodes[child].origin = .dotted
                nodes[child].position = part.position
                nodes[table].entries[part.name]?.position = part.position
                table = child
            case .table:
                let message = "table \"\(name())\" is defined by a header and cannot be extended with dotted keys"
                throw TOMLError(position: start, message: message)
            case .tables:
                let message = "array of tables \"\(name())\" cannot be extended with dotted keys"
                throw TOMLError(position: start, message: message)
            case .value(let value):
                throw Self.cannotExtend(value, named: name(), at: start)
            }
        }
        guard nodes[table].entries[part.name] == nil else {
            throw TOMLError(position: start, message: "key \"\(Self.render(key))\" is already defined")
        }
        add(part.name, .value(value), to: table, at: part.position)
    }

    /// The error for treating `value`, which `name` already holds, as a table.
    static func cannotExtend(_ value: TOMLValue, named name: String, at position: TOMLPosition) -> TOMLError {
        let message =
            switch value {
            case .table: "inline table \"\(name)\" cannot be extended"
            case .array: "array \"\(name)\" cannot be extended"
            default: "key \"\(name)\" is already defined as \(value.typeName)"
            }
        return TOMLError(position: position, message: message)
    }

    /// Adds a new table as `name` in `parent`.
    mutating func addTable(
        _ name: String, to parent: Int, origin: Origin, at position: TOMLPosition
    ) throws(TOMLError) -> Int {
        let child = try newNode(origin: origin, at: position, under: parent)
        add(name, .table(child), to: parent, at: position)
        return child
    }

    /// Creates a table one level below `parent`, within ``maximumDepth``.
    mutating func newNode(origin: Origin, at position: TOMLPosition, under parent: Int) throws(TOMLError) -> Int {
        let depth = nodes[parent].depth + 1
        guard depth <= Self.maximumDepth else { throw Self.tooDeep(at: position) }
        nodes.append(Node(origin: origin, position: position, depth: depth))
        return nodes.count - 1
    }

    /// Adds `name`, which must be new, to `table`.
    mutating func add(_ name: String, _ slot: Slot, to table: Int, at position: TOMLPosition) {
        nodes[table].keys.append(name)
        nodes[table].entries[name] = Entry(slot: slot, position: position)
    }

    /// The error for nesting beyond ``maximumDepth``.
    static func tooDeep(at position: TOMLPosition) -> TOMLError {
        TOMLError(position: position, message: "tables and arrays are nested more than \(maximumDepth) deep")
    }

    /// The finished value of the table at `node`.
    func table(_ node: Int) -> TOMLTable {
        var result = TOMLTable(position: nodes[node].position)
        for key in nodes[node].keys {
            guard let entry = nodes[node].entries[key] else { continue }
            let value: TOMLValue =
                switch entry.slot {
                case .value(let value): value
                case .table(let child): .table(table(child))
                case .tables(let list, _): .array(arrays[list].map { .table(table($0)) })
                }
            result.append(key, value, at: entry.position)
        }
        return result
    }
}

extension TOMLParser {
    /// Turns byte offsets into positions, counting on from the previous offset asked about so that asking in
    /// document order costs linear time in all.
    struct Locator {
        /// Where line 1, column 1 is: after any byte order mark.
        let start: Int
        var offset: Int
        var line = 1
        var column = 1

        /// Creates a locator for a document whose text starts at `start`.
        init(start: Int) {
            self.start = start
            offset = start
        }

        /// The position of the byte at `target`.
        mutating func position(at target: Int, in bytes: [UInt8]) -> TOMLPosition {
            if target < offset { (offset, line, column) = (start, 1, 1) }
            let end = min(target, bytes.count)
            while offset < end {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
                offset += 1
            }
            return TOMLPosition(line: line, column: column)
        }
    }
}
