/// A TOML value.
public enum TOMLValue: Sendable, Equatable {
    /// A string.
    case string(String)
    /// A 64-bit integer.
    case integer(Int64)
    /// A binary64 float, including infinities and NaN.
    case float(Double)
    /// `true` or `false`.
    case boolean(Bool)
    /// A date-time with an offset, such as `1979-05-27T07:32:00Z`, as written.
    case offsetDateTime(String)
    /// A date-time without an offset, such as `1979-05-27T07:32:00`, as written.
    case localDateTime(String)
    /// A date, such as `1979-05-27`, as written.
    case localDate(String)
    /// A time of day, such as `07:32:00.5`, as written.
    case localTime(String)
    /// An array, whose elements may be of different types.
    case array([TOMLValue])
    /// A table, inline or not.
    case table(TOMLTable)

    /// The string, if this is one.
    public var string: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// The integer, if this is one.
    public var integer: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    /// The float, if this is one.
    public var float: Double? {
        if case .float(let value) = self { value } else { nil }
    }

    /// The boolean, if this is one.
    public var bool: Bool? {
        if case .boolean(let value) = self { value } else { nil }
    }

    /// The elements, if this is an array.
    public var array: [TOMLValue]? {
        if case .array(let value) = self { value } else { nil }
    }

    /// The table, if this is one.
    public var table: TOMLTable? {
        if case .table(let value) = self { value } else { nil }
    }

    /// The type with its article, for messages: "a string", "an integer", "a date or time", …
    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .offsetDateTime, .localDateTime, .localDate, .localTime: "a date or time"
        case .array: "an array"
        case .table: "a table"
        }
    }
}
