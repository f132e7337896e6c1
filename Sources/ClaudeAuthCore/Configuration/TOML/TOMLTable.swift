/// A TOML table: its keys in the order the document defines them, each with where it was defined.
public struct TOMLTable: Sendable, Equatable {
    /// The keys, in definition order.
    public private(set) var keys: [String] = []
    /// Where the table was opened: its `[header]` (the first one to name it, for a table only implied by
    /// headers such as `[a.b]`), its `[[header]]`, its first dotted key, or its `{`; nil for the root.
    public let position: TOMLPosition?
    private var values: [String: TOMLValue] = [:]
    private var positions: [String: TOMLPosition] = [:]

    /// Parses a TOML 1.0 document from UTF-8 bytes; a leading byte order mark is skipped.
    public init(bytes: [UInt8]) throws(TOMLError) {
        var parser = TOMLParser(bytes: bytes)
        self = try parser.parse()
    }

    /// Parses a TOML 1.0 document.
    public init(string: String) throws(TOMLError) {
        try self.init(bytes: Array(string.utf8))
    }

    /// Creates an empty table opened at `position`.
    init(position: TOMLPosition?) {
        self.position = position
    }

    /// The number of keys.
    public var count: Int { keys.count }

    /// The value of `key`, if the table defines it.
    public subscript(key: String) -> TOMLValue? { values[key] }

    /// Where `key` was defined: the first character of its part of the key, or the `[` of the header
    /// that defined (or first implied) it; nil if the table does not define it.
    public func position(of key: String) -> TOMLPosition? { positions[key] }

    /// Adds `key`, which the table must not define yet.
    mutating func append(_ key: String, _ value: TOMLValue, at position: TOMLPosition) {
        keys.append(key)
        values[key] = value
        positions[key] = position
    }

    /// Tables are equal when they define the same keys in the same order with equal values; positions
    /// do not count.
    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.keys == rhs.keys && lhs.values == rhs.values
    }
}
