extension TOMLParser {
    /// Parses a boolean, number, date or time: a run of letters, digits and `_+-.:`.
    mutating func parseScalar() throws(TOMLError) -> TOMLValue {
        let start = index
        skipToken()
        // A date, a space and a time make one date-time.
        if index - start == 10, bytes[start + 4] == UInt8(ascii: "-"), peek() == UInt8(ascii: " "),
            peek(1).map(Self.isDigit) == true, peek(2).map(Self.isDigit) == true, peek(3) == UInt8(ascii: ":")
        {
            index += 1
            skipToken()
        }
        let token = bytes[start..<index]
        guard let first = token.first else { throw failure("expected a value, found \(found())") }
        let signed = first == UInt8(ascii: "+") || first == UInt8(ascii: "-")
        let unsigned = signed ? token.dropFirst() : token
        guard let leading = unsigned.first, Self.isDigit(leading) else { return try parseWord(token, start: start) }
        if Self.isDateOrTime(token) {
            guard let value = Self.dateTime(token) else {
                throw failure("invalid date or time", at: start)
            }
            return value
        }
        if leading == UInt8(ascii: "0"), let radix = unsigned.dropFirst().first.flatMap(Self.radix) {
            guard !signed else {
                throw failure("invalid integer: only decimal integers have a sign", at: start)
            }
            return .integer(try integer(token, digits: unsigned.dropFirst(2), radix: radix, start: start))
        }
        if unsigned.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            return .float(try float(token, unsigned: unsigned, start: start))
        }
        return .integer(try integer(token, digits: unsigned, radix: 10, start: start))
    }

    /// Parses a token that does not start with a digit: a boolean, `inf` or `nan`.
    mutating func parseWord(_ token: ArraySlice<UInt8>, start: Int) throws(TOMLError) -> TOMLValue {
        let text = Self.text(token)
        switch text {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan": return .float(.nan)
        case "-nan": return .float(-.nan)
        default:
            let isWord = token.first.map { Self.isBareKey($0) && $0 != UInt8(ascii: "-") } == true
            throw failure("invalid value\(isWord ? ": strings must be quoted" : "")", at: start)
        }
    }

    /// A token as a string, for values and messages.
    static func text(_ token: ArraySlice<UInt8>) -> String {
        String(decoding: token, as: UTF8.self)
    }

    /// Skips letters, digits and `_+-.:`.
    mutating func skipToken() {
        while let byte = peek(),
            Self.isBareKey(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
        {
            index += 1
        }
    }

    // MARK: Numbers

    /// The radix a `0x`, `0o` or `0b` prefix selects.
    static func radix(_ marker: UInt8) -> Int64? {
        switch marker {
        case UInt8(ascii: "x"): 16
        case UInt8(ascii: "o"): 8
        case UInt8(ascii: "b"): 2
        default: nil
        }
    }

    /// Whether `byte` is a decimal digit.
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// The value of a hexadecimal digit, or 16 for any other byte.
    static func digitValue(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: 16
        }
    }

    /// Consumes digits of `radix` with single underscores between them; false if there are none or an
    /// underscore is misplaced.
    static func skipDigits(_ rest: inout ArraySlice<UInt8>, radix: Int64) -> Bool {
        var afterDigit = false
        while let byte = rest.first {
            if digitValue(byte) < radix {
                afterDigit = true
            } else if byte == UInt8(ascii: "_"), afterDigit, let next = rest.dropFirst().first,
                digitValue(next) < radix
            {
                afterDigit = false
            } else {
                break
            }
            rest = rest.dropFirst()
        }
        return afterDigit
    }

    /// The value of an integer's digits, which must be all of them, with overflow an error.
    mutating func integer(
        _ token: ArraySlice<UInt8>, digits: ArraySlice<UInt8>, radix: Int64, start: Int
    ) throws(TOMLError) -> Int64 {
        var rest = digits
        guard Self.skipDigits(&rest, radix: radix), rest.isEmpty else {
            throw failure("invalid integer", at: start)
        }
        if radix == 10, digits.count > 1, digits.first == UInt8(ascii: "0") {
            throw failure("leading zeros are not allowed in a number", at: start)
        }
        // Accumulated negated, so that Int64.min fits.
        var value: Int64 = 0
        var overflow = false
        for byte in digits where byte != UInt8(ascii: "_") {
            let (shifted, shiftOverflow) = value.multipliedReportingOverflow(by: radix)
            let (next, addOverflow) = shifted.subtractingReportingOverflow(Int64(Self.digitValue(byte)))
            value = next
            overflow = overflow || shiftOverflow || addOverflow
        }
        if token.first != UInt8(ascii: "-") {
            let (positive, negateOverflow) = Int64(0).subtractingReportingOverflow(value)
            value = positive
            overflow = overflow || negateOverflow
        }
        guard !overflow else { throw failure("integer is out of range (64 bits)", at: start) }
        return value
    }

    /// The value of a float with a fraction, an exponent or both.
    mutating func float(
        _ token: ArraySlice<UInt8>, unsigned: ArraySlice<UInt8>, start: Int
    ) throws(TOMLError) -> Double {
        var rest = unsigned
        var valid = Self.skipDigits(&rest, radix: 10)
        if unsigned.count - rest.count > 1, unsigned.first == UInt8(ascii: "0") {
            throw failure("leading zeros are not allowed in a number", at: start)
        }
        if valid, rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            valid = Self.skipDigits(&rest, radix: 10)
        }
        if valid, rest.first == UInt8(ascii: "e") || rest.first == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            if rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-") { rest = rest.dropFirst() }
            valid = Self.skipDigits(&rest, radix: 10)
        }
        guard valid, rest.isEmpty, let value = Double(Self.text(token.filter { $0 != UInt8(ascii: "_") }[...])) else {
            throw failure("invalid float", at: start)
        }
        guard value.isFinite else { throw failure("float is out of range", at: start) }
        return value
    }

    // MARK: Dates and times

    /// Whether a token starts like a time (`HH:`) or a date (`YYYY-`).
    static func isDateOrTime(_ token: ArraySlice<UInt8>) -> Bool {
        func digits(_ count: Int) -> Bool {
            token.prefix(count).count == count && token.prefix(count).allSatisfy(isDigit)
        }
        return (digits(2) && token.dropFirst(2).first == UInt8(ascii: ":"))
            || (digits(4) && token.dropFirst(4).first == UInt8(ascii: "-"))
    }

    /// The date, time or date-time a token spells, if valid; its value keeps the text.
    static func dateTime(_ token: ArraySlice<UInt8>) -> TOMLValue? {
        let text = Self.text(token)
        var rest = token
        if token.dropFirst(2).first == UInt8(ascii: ":") {
            return time(&rest) && rest.isEmpty ? .localTime(text) : nil
        }
        guard date(&rest) else { return nil }
        if rest.isEmpty { return .localDate(text) }
        guard skip(in: &rest, "T") || skip(in: &rest, "t") || skip(in: &rest, " "), time(&rest) else { return nil }
        if rest.isEmpty { return .localDateTime(text) }
        return offset(&rest) && rest.isEmpty ? .offsetDateTime(text) : nil
    }

    /// Consumes `YYYY-MM-DD`, a real day of the Gregorian calendar.
    static func date(_ rest: inout ArraySlice<UInt8>) -> Bool {
        guard let year = number(&rest, digits: 4), skip(in: &rest, "-"), let month = number(&rest, digits: 2),
            skip(in: &rest, "-"), let day = number(&rest, digits: 2), (1...12).contains(month)
        else { return false }
        let isLeapYear = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days =
            switch month {
            case 2: isLeapYear ? 29 : 28
            case 4, 6, 9, 11: 30
            default: 31
            }
        return (1...days).contains(day)
    }

    /// Consumes `HH:MM:SS` with an optional fraction; a leap second (`:60`) is allowed.
    static func time(_ rest: inout ArraySlice<UInt8>) -> Bool {
        guard let hour = number(&rest, digits: 2), skip(in: &rest, ":"), let minute = number(&rest, digits: 2),
            skip(in: &rest, ":"), let second = number(&rest, digits: 2), hour < 24, minute < 60, second <= 60
        else { return false }
        guard skip(in: &rest, ".") else { return true }
        let fraction = rest.prefix(while: isDigit).count
        rest = rest.dropFirst(fraction)
        return fraction > 0
    }

    /// Consumes `Z` or `±HH:MM`.
    static func offset(_ rest: inout ArraySlice<UInt8>) -> Bool {
        if skip(in: &rest, "Z") || skip(in: &rest, "z") { return true }
        guard skip(in: &rest, "+") || skip(in: &rest, "-"), let hour = number(&rest, digits: 2), skip(in: &rest, ":"),
            let minute = number(&rest, digits: 2)
        else { return false }
        return hour < 24 && minute < 60
    }

    /// Consumes exactly `count` decimal digits, returning their value.
    static func number(_ rest: inout ArraySlice<UInt8>, digits count: Int) -> Int? {
        let digits = rest.prefix(count)
        guard digits.count == count, digits.allSatisfy(isDigit) else { return nil }
        rest = rest.dropFirst(count)
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// Consumes `character` if it is next.
    static func skip(in rest: inout ArraySlice<UInt8>, _ character: Unicode.Scalar) -> Bool {
        guard rest.first == UInt8(ascii: character) else { return false }
        rest = rest.dropFirst()
        return true
    }
}
