/// `application/x-www-form-urlencoded` query strings (`a=1&b=x%20y`), decoded without trusting them.
public enum QueryString {
    /// The parameters of `query` (without its `?`); nil when a part is not valid percent-encoding or UTF-8.
    /// A repeated name keeps its last value.
    public static func decode(_ query: Substring) -> [String: String]? {
        var query = query
        // Bytes, not characters: the separators are ASCII, and grapheme breaking would cost more than the rest.
        return query.withUTF8 { bytes -> [String: String]? in
            var parameters: [String: String] = [:]
            var start = bytes.startIndex
            while start < bytes.endIndex {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
                let pair = bytes[start..<end]
                start = end + 1
                guard !pair.isEmpty else { continue }
                let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
                let value = equals < pair.endIndex ? pair[(equals + 1)...] : pair[pair.endIndex...]
                guard let name = percentDecode(pair[..<equals]), let value = percentDecode(value) else { return nil }
                parameters[name] = value
            }
            return parameters
        }
    }

    /// Decodes `+` and `%XX`; nil for a truncated or non-hex escape or bytes that are not UTF-8.
    private static func percentDecode(_ text: some Collection<UInt8>) -> String? {
        // Without escapes the bytes are a slice of a string, cut at ASCII separators: valid UTF-8 already.
        if !text.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) { return String(decoding: text, as: UTF8.self) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var iterator = text.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
