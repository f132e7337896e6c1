/// A place in a TOML document: a 1-based line, and a 1-based column counted in Unicode scalars.
public struct TOMLPosition: Sendable, Hashable, CustomStringConvertible {
    /// The line, from 1.
    public var line: Int
    /// The column, from 1, counted in Unicode scalars (a tab is one column).
    public var column: Int

    /// Creates a position.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `LINE:COLUMN`.
    public var description: String { "\(line):\(column)" }
}

/// Why a document is not valid TOML 1.0, and where.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is.
    public var position: TOMLPosition
    /// What is wrong, in a phrase.
    public var message: String

    /// Creates an error.
    public init(position: TOMLPosition, message: String) {
        self.position = position
        self.message = message
    }

    /// `LINE:COLUMN: MESSAGE`.
    public var description: String { "\(position): \(message)" }
}
