/// A configuration that cannot be used, with where in the file the problem is.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file read.
    public var file: String
    /// The 1-based line of the problem, when known.
    public var line: Int?
    /// The 1-based column of the problem, when known.
    public var column: Int?
    /// What is wrong, in a sentence.
    public var message: String

    /// Creates a configuration error.
    public init(file: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `FILE:LINE:COLUMN: MESSAGE`, as compilers print it.
    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return "\(location): \(message)"
    }
}
