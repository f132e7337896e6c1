extension TOMLParser {
    /// Parses the value that starts here; `depth` is how deep it would sit in the document.
    mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
        switch peek() {
        case UInt8(ascii: "\""): .string(try parseBasicString(allowingMultiline: true))
        case UInt8(ascii: "'"): .string(try parseLiteralString(allowingMultiline: true))
        case UInt8(ascii: "["): try parseArray(depth: depth)
        case UInt8(ascii: "{"): try parseInlineTable(depth: depth)
        default: try parseScalar()
        }
    }

    /// Parses `[ value, … ]`, which may span lines and hold comments and a trailing comma.
    mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLValue {
        guard depth <= Self.maximumDepth else { throw Self.tooDeep(at: position()) }
        index += 1
        var elements: [TOMLValue] = []
        while true {
            try skipBlankLines()
            if peek() == UInt8(ascii: "]") { break }
            elements.append(try parseValue(depth: depth + 1))
            try skipBlankLines()
            if peek() == UInt8(ascii: "]") { break }
            guard peek() == UInt8(ascii: ",") else {
                throw failure("expected \",\" or \"]\" in an array, found \(found())")
            }
            index += 1
        }
        index += 1
        return .array(elements)
    }

    /// Parses `{ key = value, … }`, which must fit on one line and has no trailing comma.
    mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        guard depth <= Self.maximumDepth else { throw Self.tooDeep(at: position()) }
        let node = nodes.count
        nodes.append(Node(origin: .header, position: position(), depth: depth))
        index += 1
        skipSpaces()
        if peek() != UInt8(ascii: "}") {
            while true {
                let key = try parseKey()
                guard peek() == UInt8(ascii: "=") else { throw failure("expected \"=\" after a key, found \(found())") }
                index += 1
                skipSpaces()
                try define(key, try parseValue(depth: depth + key.count), in: node)
                skipSpaces()
                if peek() == UInt8(ascii: "}") { break }
                guard peek() == UInt8(ascii: ",") else {
                    let atNewline = peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r")
                    let hint = atNewline ? " (inline tables must fit on one line)" : ""
                    throw failure("expected \",\" or \"}\" in an inline table, found \(found())\(hint)")
                }
                index += 1
                skipSpaces()
                if peek() == UInt8(ascii: "}") { throw failure("an inline table cannot end with a comma") }
            }
        }
        index += 1
        let value = TOMLValue.table(table(node))
        nodes.removeLast(nodes.count - node)
        return value
    }

    // MARK: Strings

    /// Parses a basic string (`"…"`), or a multi-line one (`"""…"""`) if allowed and it opens so.
    mutating func parseBasicString(allowingMultiline: Bool) throws(TOMLError) -> String {
        let start = index
        let multiline = allowingMultiline && peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"")
        index += multiline ? 3 : 1
        if multiline { _ = try consumeNewline() }
        var text: [UInt8] = []
        var segment = index
        while let byte = peek() {
            if byte == UInt8(ascii: "\"") {
                guard let end = try closingQuotes(byte, multiline: multiline) else { continue }
                text += bytes[segment..<end]
                return String(decoding: text, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                text += bytes[segment..<index]
                try parseEscape(into: &text, multiline: multiline)
                segment = index
            } else {
                try skipStringByte(byte, multiline: multiline, start: start)
            }
        }
        throw failure("unterminated string", at: start)
    }

    /// Parses a literal string (`'…'`), or a multi-line one (`'''…'''`) if allowed and it opens so.
    mutating func parseLiteralString(allowingMultiline: Bool) throws(TOMLError) -> String {
        let start = index
        let multiline = allowingMultiline && peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'")
        index += multiline ? 3 : 1
        if multiline { _ = try consumeNewline() }
        let contentStart = index
        while let byte = peek() {
            if byte == UInt8(ascii: "'") {
                guard let end = try closingQuotes(byte, multiline: multiline) else { continue }
                return String(decoding: bytes[contentStart..<end], as: UTF8.self)
            }
            try skipStringByte(byte, multiline: multiline, start: start)
        }
        throw failure("unterminated string", at: start)
    }

    /// At a quote like the opening one: consumes it, and returns where the content ends if it closes the
    /// string. In a multi-line string one or two quotes are content, and so are up to two before the
    /// closing three.
    mutating func closingQuotes(_ quote: UInt8, multiline: Bool) throws(TOMLError) -> Int? {
        guard multiline else {
            index += 1
            return index - 1
        }
        var run = 0
        while peek(run) == quote { run += 1 }
        guard run >= 3 else {
            index += run
            return nil
        }
        guard run <= 5 else { throw failure("too many quotes at the end of a multi-line string", at: index + 5) }
        index += run
        return index - 3
    }

    /// Consumes one byte of string content, refusing newlines in one-line strings and control characters.
    mutating func skipStringByte(_ byte: UInt8, multiline: Bool, start: Int) throws(TOMLError) {
        if byte == UInt8(ascii: "\n") || (byte == UInt8(ascii: "\r") && peek(1) == UInt8(ascii: "\n")) {
            guard multiline else { throw failure("unterminated string", at: start) }
            _ = try consumeNewline()
        } else if Self.isControl(byte) {
            throw failure("control character \(Self.codePoint(UInt32(byte))) is not allowed in a string")
        } else {
            index += 1
        }
    }

    /// Parses an escape sequence after a backslash, or in a multi-line string a line-ending backslash.
    mutating func parseEscape(into text: inout [UInt8], multiline: Bool) throws(TOMLError) {
        let start = index
        index += 1
        guard let byte = peek() else { throw failure("unterminated string") }
        let escaped: UInt8
        switch byte {
        case UInt8(ascii: "b"): escaped = 0x08
        case UInt8(ascii: "t"): escaped = 0x09
        case UInt8(ascii: "n"): escaped = 0x0A
        case UInt8(ascii: "f"): escaped = 0x0C
        case UInt8(ascii: "r"): escaped = 0x0D
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): escaped = byte
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            index += 1
            return try parseUnicodeEscape(digits: byte == UInt8(ascii: "u") ? 4 : 8, into: &text, start: start)
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
            guard multiline else { throw failure("invalid escape sequence: a backslash before whitespace", at: start) }
            skipSpaces()
            guard try consumeNewline() else {
                throw failure("a line-ending backslash must be followed by a newline", at: start)
            }
            repeat { skipSpaces() } while try consumeNewline()
            return
        default:
            throw failure("invalid escape sequence \"\\\(String(decoding: [byte], as: UTF8.self))\"", at: start)
        }
        index += 1
        text.append(escaped)
    }

    /// Parses the hexadecimal digits of `\uXXXX` or `\UXXXXXXXX`.
    mutating func parseUnicodeEscape(digits: Int, into text: inout [UInt8], start: Int) throws(TOMLError) {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let byte = peek(), Self.digitValue(byte) < 16 else {
                throw failure("expected \(digits) hexadecimal digits in a Unicode escape, found \(found())")
            }
            value = value << 4 | UInt32(Self.digitValue(byte))
            index += 1
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw failure("\(Self.codePoint(value)) is not a Unicode scalar value", at: start)
        }
        text += scalar.utf8
    }
}
