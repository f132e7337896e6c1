import ClaudeAuthCore
import Testing

@Suite("query strings")
struct QueryStringTests {
    @Test("names and values, percent-escapes and +, a repeated name's last value, a bare name, raw UTF-8")
    func decodes() {
        #expect(QueryString.decode("profile=api&min_validity=30") == ["profile": "api", "min_validity": "30"])
        #expect(QueryString.decode("a=x%20y+z&b=%E2%82%AC") == ["a": "x y z", "b": "€"])
        #expect(QueryString.decode("a=1&a=2") == ["a": "2"])
        #expect(QueryString.decode("flag&=v&&") == ["flag": "", "": "v"])
        #expect(QueryString.decode("é=ü") == ["é": "ü"])
        #expect(QueryString.decode("") == [:])
    }

    @Test("a truncated or non-hex escape, or an escape that is not UTF-8, is refused")
    func refuses() {
        for query in ["a=%zz", "a=%2", "a=%", "%G0=1", "a=%C3", "a=%FF%FE"] {
            #expect(QueryString.decode(query[...]) == nil, "\(query)")
        }
    }
}
