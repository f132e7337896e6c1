/// What a user pastes to finish a manual login (DESIGN §7): a bare code, `code#state`, or the whole redirect URL.
public enum PastedCode {
    /// The authorization response parameters in `text`: `code`, and `state`, `error` and `error_description`
    /// where the paste carries them. Malformed input yields what it can, often nothing; it never traps.
    public static func parameters(_ text: String) -> [String: String] {
        let pasted = text.trimmingSpacesAndNewlines
        if let question = pasted.firstIndex(of: "?") {
            // A redirect URL: its query, without a fragment.
            let query = pasted[pasted.index(after: question)...]
            return QueryString.decode(query.prefix { $0 != "#" }) ?? [:]
        }
        if let hash = pasted.firstIndex(of: "#") {
            return ["code": String(pasted[..<hash]), "state": String(pasted[pasted.index(after: hash)...])]
        }
        return ["code": String(pasted)]
    }
}

extension String {
    /// The text without leading and trailing spaces, tabs and line breaks.
    var trimmingSpacesAndNewlines: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0.isNewline }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
