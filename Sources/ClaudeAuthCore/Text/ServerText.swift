/// Text that a server or another user chose (an OAuth `error_description`, a callback's `error`), made fit to
/// quote in a log line, an error message or `status`.
public enum ServerText {
    /// At most `limit` characters of `text` with control characters turned to spaces, and every word that holds
    /// one of `secrets`, or a long piece of one, replaced: a server that echoes a token back must not put it in
    /// the journal.
    public static func excerpt(_ text: String, limit: Int = 120, hiding secrets: [Secret] = []) -> String {
        let printable = String(text.prefix(limit).map { $0.isASCII && $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true ? " " : $0 })
        let held = secrets.map(\.unredacted).filter { $0.utf8.count >= minimumSecretLength }
        guard !held.isEmpty else { return printable }
        let words = printable.split(omittingEmptySubsequences: false) { separators.contains($0) }
        var result = ""
        var rest = printable[...]
        for word in words {
            let isSecret = held.contains { word.contains($0) || (word.utf8.count >= minimumPieceLength && $0.contains(word)) }
            result += isSecret ? "[redacted]" : String(word)
            rest = rest.dropFirst(word.count)
            if let separator = rest.first {
                result.append(separator)
                rest = rest.dropFirst()
            }
        }
        return result
    }

    /// Shorter secrets are not looked for: they would match ordinary words.
    static let minimumSecretLength = 8
    /// Shorter words are too common to be taken for a piece of a secret (a token "at-truncated" must not hide
    /// the word "truncated").
    static let minimumPieceLength = 16
    private static let separators: Set<Character> = [" ", "\"", "'", ",", "(", ")", ":", ";", "=", "&", "<", ">"]
}
