import Testing

@testable import ClaudeAuthCore

@Suite("TOMLParser")
struct TOMLParserTests {
    /// Valid documents, each with its value rendered by ``render(_:)``.
    static let validDocuments: [(document: String, expected: String)] = [
        ("", "{}"),
        ("# only a comment", "{}"),
        ("\n\n  \t\n", "{}"),
        ("\u{FEFF}a = 1", "{a=1}"),
        ("a = 1\r\nb = 2\r\n", "{a=1,b=2}"),
        ("a = 1 # comment", "{a=1}"),
        ("a=1#c", "{a=1}"),
        ("bare_key-1 = 1\n1234 = 2\n\"quoted key\" = 3\n'literal \"key\"' = 4\n\"\" = 5", "{bare_key-1=1,1234=2,\"quoted key\"=3,\"literal \\\"key\\\"\"=4,\"\"=5}"),
        ("a . b . c = 1\na.d = 2\n\"a\".'e' = 3", "{a={b={c=1},d=2,e=3}}"),
        ("site.\"google.com\" = true", "{site={\"google.com\"=true}}"),
        ("3.14159 = \"pi\"", "{3={14159=\"pi\"}}"),
        ("[a]\n[a.b]\n[c.d.e]\n[c]\nx = 1", "{a={b={}},c={d={e={}},x=1}}"),
        ("[ a . \"b c\" . 'd' ]\nx = 1", "{a={\"b c\"={d={x=1}}}}"),
        ("[a.b.c]\n[a]\nb.d = 1", "{a={b={c={},d=1}}}"),
        ("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true", "{fruit={apple={color=\"red\",taste={sweet=true},texture={smooth=true}}}}"),
        ("[[p]]\nn = 1\n[[p]]\n[[p]]\nn = 3", "{p=[{n=1},{},{n=3}]}"),
        ("[[f]]\n[f.v]\nx = 1\n[[f.w]]\ny = 1\n[[f.w]]\ny = 2\n[[f]]\n[[f.w]]\ny = 3", "{f=[{v={x=1},w=[{y=1},{y=2}]},{w=[{y=3}]}]}"),
        ("a = [{b = 1}, {b = 2}]", "{a=[{b=1},{b=2}]}"),
        ("a = {}\nb = { c = 1, d.e = 2, d.f = [1, {g = 3}] }", "{a={},b={c=1,d={e=2,f=[1,{g=3}]}}}"),
        ("a = [\n  1, # one\n  2,\n  # two\n]", "{a=[1,2]}"),
        ("a = [ [1, 2], [\"x\", 1.5], [], [[]] ]", "{a=[[1,2],[\"x\",1.5],[],[[]]]}"),
        ("a = [1, \"a\", 1.5, true, 1979-05-27, {}]", "{a=[1,\"a\",1.5,true,ld(1979-05-27),{}]}"),
        ("a = \"tab\\there \\\"q\\\" \\\\ \\b\\f\\n\\r \\u00E9 \\U0001F600\"", "{a=\"tab\\there \\\"q\\\" \\\\ \\u{08}\\u{0C}\\n\\r é 😀\"}"),
        ("a = 'C:\\Users\\x'", "{a=\"C:\\\\Users\\\\x\"}"),
        ("a = \"é\tok\"", "{a=\"é\\tok\"}"),
        ("a = \"\"\"\nline1\nline2\"\"\"", "{a=\"line1\\nline2\"}"),
        ("a = \"\"\"\r\nline\"\"\"", "{a=\"line\"}"),
        ("a = \"\"\"a \\\n   \n    b\"\"\"", "{a=\"a b\"}"),
        ("a = \"\"\"a \\  \n b\"\"\"", "{a=\"a b\"}"),
        ("a = \"\"\"x\"\"\"\"", "{a=\"x\\\"\"}"),
        ("a = \"\"\"x\"\"\"\"\"", "{a=\"x\\\"\\\"\"}"),
        ("a = \"\"\"\"x\"\"\"", "{a=\"\\\"x\"}"),
        ("a = \"\"\"\"\"x\"\"\"", "{a=\"\\\"\\\"x\"}"),
        ("a = \"\"\"\\\"\"\"\"\"\"", "{a=\"\\\"\\\"\\\"\"}"),
        ("a = '''\nraw \\n'''", "{a=\"raw \\\\n\"}"),
        ("a = '''x''''", "{a=\"x\\'\"}"),
        ("a = '''x'''''", "{a=\"x\\'\\'\"}"),
        ("a = ''''x'''", "{a=\"\\'x\"}"),
        ("a = ''''''", "{a=\"\"}"),
        ("a = \"\"\"\"\"\"", "{a=\"\"}"),
        ("a = 0\nb = +0\nc = -0\nd = 1_000\ne = -17\nf = +99", "{a=0,b=0,c=0,d=1000,e=-17,f=99}"),
        ("a = 9223372036854775807\nb = -9223372036854775808", "{a=9223372036854775807,b=-9223372036854775808}"),
        ("a = 0xDEAD_beef\nb = 0o755\nc = 0b1101\nd = 0x0001\ne = 0x7FFFFFFFFFFFFFFF", "{a=3735928559,b=493,c=13,d=1,e=9223372036854775807}"),
        ("a = 1.5\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\nf = 6.626e-34\ng = 224_617.445_991_228\nh = 0e0\ni = -0.0\nj = 1e1_0", "{a=1.5,b=-0.01,c=5e+22,d=1000000.0,e=-0.02,f=6.626e-34,g=224617.445991228,h=0.0,i=-0.0,j=10000000000.0}"),
        ("a = inf\nb = +inf\nc = -inf", "{a=inf,b=inf,c=-inf}"),
        ("a = true\nb = false", "{a=true,b=false}"),
        ("a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.999999-07:00\nc = 1979-05-27 07:32:00z\nd = 1979-05-27t07:32:00+23:59", "{a=odt(1979-05-27T07:32:00Z),b=odt(1979-05-27T00:32:00.999999-07:00),c=odt(1979-05-27 07:32:00z),d=odt(1979-05-27t07:32:00+23:59)}"),
        ("a = 1979-05-27T07:32:00\nb = 1979-05-27 07:32:00.5", "{a=ldt(1979-05-27T07:32:00),b=ldt(1979-05-27 07:32:00.5)}"),
        ("a = 1979-05-27\nb = 2000-02-29\nc = 2024-12-31", "{a=ld(1979-05-27),b=ld(2000-02-29),c=ld(2024-12-31)}"),
        ("a = 07:32:00\nb = 00:00:00.000001\nc = 23:59:60", "{a=lt(07:32:00),b=lt(00:00:00.000001),c=lt(23:59:60)}"),
        ("a = 1979-05-27 # date then comment", "{a=ld(1979-05-27)}"),
    ]

    /// Invalid documents, each with where the error is and what it says.
    static let invalidDocuments: [(document: String, line: Int, column: Int, message: String)] = [
        ("[!]", 1, 2, "expected a key, found \"!\""),
        ("[&", 1, 2, "expected a key, found \"&\""),
        ("[é]", 1, 2, "expected a key, found \"é\""),
        ("[[!]]", 1, 3, "expected a key, found \"!\""),
        ("[.", 1, 2, "expected a key, found \".\""),
        ("[]", 1, 2, "expected a key, found \"]\""),
        ("[a", 1, 3, "expected \"]\", found end of input"),
        ("[a]]", 1, 4, "expected a newline, found \"]\""),
        ("[[a]", 1, 4, "expected \"]]\", found \"]\""),
        ("[[a] ]", 1, 4, "expected \"]]\", found \"]\""),
        ("[ [a]]", 1, 3, "expected a key, found \"[\""),
        ("[a.]", 1, 4, "expected a key, found \"]\""),
        ("[.a]", 1, 2, "expected a key, found \".\""),
        ("[a..b]", 1, 4, "expected a key, found \".\""),
        ("[a] b = 1", 1, 5, "expected a newline, found \"b\""),
        ("a", 1, 2, "expected \"=\" after a key, found end of input"),
        ("a =", 1, 4, "expected a value, found end of input"),
        ("= 1", 1, 1, "expected a key, found \"=\""),
        ("a = 1 b = 2", 1, 7, "expected a newline, found \"b\""),
        ("a.b. = 1", 1, 6, "expected a key, found \"=\""),
        ("a b = 1", 1, 3, "expected \"=\" after a key, found \"b\""),
        ("\"a\nb\" = 1", 1, 1, "unterminated string"),
        ("\"\"\"a\"\"\" = 1", 1, 3, "expected \"=\" after a key, found \"\"\""),
        ("a = 1\na = 2", 2, 1, "key \"a\" is already defined"),
        ("\"a\" = 1\na = 2", 2, 1, "key \"a\" is already defined"),
        ("a = 1\n'a' = 2", 2, 1, "key \"a\" is already defined"),
        ("a.b = 1\na.b = 2", 2, 1, "key \"a.b\" is already defined"),
        ("a = 1\na.b = 2", 2, 1, "key \"a\" is already defined as an integer"),
        ("a.b = 1\na = 2", 2, 1, "key \"a\" is already defined"),
        ("[a]\n[a]", 2, 1, "table [a] is already defined"),
        ("[profiles.api]\nkind = \"x\"\n[profiles.api]", 3, 1, "table [profiles.api] is already defined"),
        ("[a.b]\n[a.b]", 2, 1, "table [a.b] is already defined"),
        ("a.b = 1\n[a]", 2, 1, "table [a] is already defined"),
        ("a = {}\n[a]", 2, 1, "table [a] is already defined"),
        ("a = {}\n[a.b]", 2, 1, "inline table \"a\" cannot be extended"),
        ("a = {b = 1}\na.c = 2", 2, 1, "inline table \"a\" cannot be extended"),
        ("a = [1]\n[[a]]", 2, 1, "array \"a\" cannot be extended"),
        ("a = [{b = 1}]\n[a.c]", 2, 1, "array \"a\" cannot be extended"),
        ("[a]\n[[a]]", 2, 1, "table [a] is not an array of tables"),
        ("[[a]]\n[a]", 2, 1, "table [a] is already defined as an array of tables"),
        ("[a.b]\n[[a]]", 2, 1, "table [a] is not an array of tables"),
        ("a = 1\n[a]", 2, 1, "key \"a\" is already defined as an integer"),
        ("[[a.b]]\n[a]\nb.c = 1", 3, 1, "array of tables \"b\" cannot be extended with dotted keys"),
        ("[a.b.c]\n[a]\nb.c.d = 1", 3, 1, "table \"b.c\" is defined by a header and cannot be extended with dotted keys"),
        ("[a]\nb.c = 1\n[a.b]", 3, 1, "table [a.b] is already defined"),
        ("a = {b = 1, b = 2}", 1, 13, "key \"b\" is already defined"),
        ("a = {b.c = 1, b = 2}", 1, 15, "key \"b\" is already defined"),
        ("a = {b = 1,}", 1, 12, "an inline table cannot end with a comma"),
        ("a = {,}", 1, 6, "expected a key, found \",\""),
        ("a = {b = 1\n}", 1, 11, "expected \",\" or \"}\" in an inline table, found a newline (inline tables must fit on one line)"),
        ("a = {\nb = 1}", 1, 6, "expected a key, found a newline"),
        ("a = {b = 1 c = 2}", 1, 12, "expected \",\" or \"}\" in an inline table, found \"c\""),
        ("a = {b = 1", 1, 11, "expected \",\" or \"}\" in an inline table, found end of input"),
        ("a = {b = 1} # ok\nc = {d = {e = 1}, d.f = 2}", 2, 19, "inline table \"d\" cannot be extended"),
        ("a = [1 2]", 1, 8, "expected \",\" or \"]\" in an array, found \"2\""),
        ("a = [1,,2]", 1, 8, "expected a value, found \",\""),
        ("a = [,]", 1, 6, "expected a value, found \",\""),
        ("a = [1", 1, 7, "expected \",\" or \"]\" in an array, found end of input"),
        ("a = [1,", 1, 8, "expected a value, found end of input"),
        ("a = [1,\n# c\n", 3, 1, "expected a value, found end of input"),
        ("a = \"abc", 1, 5, "unterminated string"),
        ("a = \"abc\n\"", 1, 5, "unterminated string"),
        ("a = 'abc", 1, 5, "unterminated string"),
        ("a = \"\"\"abc", 1, 5, "unterminated string"),
        ("a = '''abc", 1, 5, "unterminated string"),
        ("a = \"\"\"abc\"\"\"\"\"\"", 1, 16, "too many quotes at the end of a multi-line string"),
        ("a = '''abc''''''", 1, 16, "too many quotes at the end of a multi-line string"),
        ("a = \"\\q\"", 1, 6, "invalid escape sequence \"\\q\""),
        ("a = \"\\x41\"", 1, 6, "invalid escape sequence \"\\x\""),
        ("a = \"\\u12\"", 1, 10, "expected 4 hexadecimal digits in a Unicode escape, found \"\"\""),
        ("a = \"\\uD800\"", 1, 6, "U+D800 is not a Unicode scalar value"),
        ("a = \"\\U00110000\"", 1, 6, "U+110000 is not a Unicode scalar value"),
        ("a = \"\\ \"", 1, 6, "invalid escape sequence: a backslash before whitespace"),
        ("a = \"\"\"\\ x\"\"\"", 1, 8, "a line-ending backslash must be followed by a newline"),
        ("a = \"bell\u{7}\"", 1, 10, "control character U+0007 is not allowed in a string"),
        ("a = 'bell\u{7}'", 1, 10, "control character U+0007 is not allowed in a string"),
        ("a = \"\"\"del\u{7F}\"\"\"", 1, 11, "control character U+007F is not allowed in a string"),
        ("a = '''nul\u{0}'''", 1, 11, "control character U+0000 is not allowed in a string"),
        ("a = \"cr\r\"", 1, 8, "control character U+000D is not allowed in a string"),
        ("a = '''cr\rx'''", 1, 10, "control character U+000D is not allowed in a string"),
        ("# bell\u{7}", 1, 7, "control character U+0007 is not allowed in a comment"),
        ("a = 1 # del\u{7F}", 1, 12, "control character U+007F is not allowed in a comment"),
        ("a = 1\rb = 2", 1, 6, "a carriage return must be followed by a newline"),
        ("a = 1\r", 1, 6, "a carriage return must be followed by a newline"),
        ("a = 99999999999999999999", 1, 5, "integer is out of range (64 bits)"),
        ("a = -9223372036854775809", 1, 5, "integer is out of range (64 bits)"),
        ("a = 9223372036854775808", 1, 5, "integer is out of range (64 bits)"),
        ("a = 0xFFFFFFFFFFFFFFFF", 1, 5, "integer is out of range (64 bits)"),
        ("a = 012", 1, 5, "leading zeros are not allowed in a number"),
        ("a = -012", 1, 5, "leading zeros are not allowed in a number"),
        ("a = 0_1", 1, 5, "leading zeros are not allowed in a number"),
        ("a = 1__2", 1, 5, "invalid integer"),
        ("a = _1", 1, 5, "invalid value: strings must be quoted"),
        ("a = 1_", 1, 5, "invalid integer"),
        ("a = 0x", 1, 5, "invalid integer"),
        ("a = 0X1", 1, 5, "invalid integer"),
        ("a = +0x1", 1, 5, "invalid integer: only decimal integers have a sign"),
        ("a = 0b2", 1, 5, "invalid integer"),
        ("a = 0o8", 1, 5, "invalid integer"),
        ("a = 0x_1", 1, 5, "invalid integer"),
        ("a = 1.", 1, 5, "invalid float"),
        ("a = .1", 1, 5, "invalid value"),
        ("a = 1.e5", 1, 5, "invalid float"),
        ("a = 1e", 1, 5, "invalid float"),
        ("a = 1e_5", 1, 5, "invalid float"),
        ("a = 1_.5", 1, 5, "invalid float"),
        ("a = 01.5", 1, 5, "leading zeros are not allowed in a number"),
        ("a = 1e400", 1, 5, "float is out of range"),
        ("a = Inf", 1, 5, "invalid value: strings must be quoted"),
        ("a = NaN", 1, 5, "invalid value: strings must be quoted"),
        ("a = inf_", 1, 5, "invalid value: strings must be quoted"),
        ("a = True", 1, 5, "invalid value: strings must be quoted"),
        ("a = hello", 1, 5, "invalid value: strings must be quoted"),
        ("a = +", 1, 5, "invalid value"),
        ("a = 1979-13-01", 1, 5, "invalid date or time"),
        ("a = 1979-02-29", 1, 5, "invalid date or time"),
        ("a = 1900-02-29", 1, 5, "invalid date or time"),
        ("a = 1979-04-31", 1, 5, "invalid date or time"),
        ("a = 1979-01-00", 1, 5, "invalid date or time"),
        ("a = 24:00:00", 1, 5, "invalid date or time"),
        ("a = 07:60:00", 1, 5, "invalid date or time"),
        ("a = 07:32:61", 1, 5, "invalid date or time"),
        ("a = 07:32", 1, 5, "invalid date or time"),
        ("a = 1979-05-27T07:32", 1, 5, "invalid date or time"),
        ("a = 1979-05-27T07:32:00.", 1, 5, "invalid date or time"),
        ("a = 1979-05-27T07:32:00+24:00", 1, 5, "invalid date or time"),
        ("a = 1979-05-27T07:32:00+07", 1, 5, "invalid date or time"),
        ("a = 1979-05-27X07:32:00", 1, 5, "invalid date or time"),
        ("a = 1979-5-27", 1, 5, "invalid date or time"),
        ("a = 1979-05-27 07:32", 1, 5, "invalid date or time"),
        ("\u{FEFF}\u{FEFF}a = 1", 1, 1, "expected a key, found \"\u{FEFF}\""),
        ("x = 1\n  y = \"ok\"\n  é = 2", 3, 3, "expected a key, found \"é\""),
    ]

    /// A compact rendering of a value: `{a=1,b=["s",1.5,ld(1979-05-27)]}`, keys in document order.
    static func render(_ value: TOMLValue) -> String {
        switch value {
        case .string(let string): string.debugDescription
        case .integer(let integer): "\(integer)"
        case .float(let float): "\(float)"
        case .boolean(let boolean): "\(boolean)"
        case .offsetDateTime(let text): "odt(\(text))"
        case .localDateTime(let text): "ldt(\(text))"
        case .localDate(let text): "ld(\(text))"
        case .localTime(let text): "lt(\(text))"
        case .array(let elements): "[" + elements.map(render).joined(separator: ",") + "]"
        case .table(let table):
            "{"
                + table.keys.map { key in
                    let bare = !key.isEmpty && key.utf8.allSatisfy(TOMLParser.isBareKey)
                    return (bare ? key : key.debugDescription) + "=" + (table[key].map(render) ?? "?")
                }.joined(separator: ",") + "}"
        }
    }

    /// The error parsing `document` throws, if any.
    static func error(_ document: String) -> TOMLError? {
        error(bytes: Array(document.utf8))
    }

    /// The error parsing `bytes` throws, if any.
    static func error(bytes: [UInt8]) -> TOMLError? {
        do {
            _ = try TOMLTable(bytes: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("valid documents parse to their values")
    func validDocuments() throws {
        for (document, expected) in Self.validDocuments {
            let table = try TOMLTable(string: document)
            #expect(Self.render(.table(table)) == expected, "\(document.debugDescription)")
        }
    }

    @Test("invalid documents are errors with a line and column")
    func invalidDocuments() {
        for (document, line, column, message) in Self.invalidDocuments {
            let expected = TOMLError(position: TOMLPosition(line: line, column: column), message: message)
            #expect(Self.error(document) == expected, "\(document.debugDescription)")
        }
    }

    @Test("the inputs that crashed TOMLKit are errors")
    func formerCrashes() {
        let cases: [(document: String, column: Int)] = [("[!]", 2), ("[&", 2), ("[é]", 2), ("[[!]]", 3), ("[.", 2)]
        for (document, column) in cases {
            let error = Self.error(document)
            #expect(error?.position == TOMLPosition(line: 1, column: column), "\(document)")
            #expect(error?.message.hasPrefix("expected a key, found") == true, "\(document)")
        }
    }

    @Test("keys keep their order and where they were defined")
    func positions() throws {
        let table = try TOMLTable(
            string: """
                b = 1
                [profiles.api]
                kind = "x"
                  key_env = 'E'
                [profiles."stored.one"]
                x.y = 1
                [[list]]
                [[list]]
                inline = { c = 1 }
                """)
        #expect(table.keys == ["b", "profiles", "list"])
        #expect(table.position == nil)
        #expect(table.position(of: "b") == TOMLPosition(line: 1, column: 1))
        #expect(table.position(of: "missing") == nil)
        #expect(table.position(of: "profiles") == TOMLPosition(line: 2, column: 1))
        let profiles = try #require(table["profiles"]?.table)
        #expect(profiles.keys == ["api", "stored.one"])
        #expect(profiles.position == TOMLPosition(line: 2, column: 1))
        let api = try #require(profiles["api"]?.table)
        #expect(api.position == TOMLPosition(line: 2, column: 1))
        #expect(api.keys == ["kind", "key_env"])
        #expect(api.position(of: "kind") == TOMLPosition(line: 3, column: 1))
        #expect(api.position(of: "key_env") == TOMLPosition(line: 4, column: 3))
        let stored = try #require(profiles["stored.one"]?.table)
        #expect(profiles.position(of: "stored.one") == TOMLPosition(line: 5, column: 1))
        #expect(stored.position(of: "x") == TOMLPosition(line: 6, column: 1))
        #expect(stored["x"]?.table?.position == TOMLPosition(line: 6, column: 1))
        #expect(stored["x"]?.table?.position(of: "y") == TOMLPosition(line: 6, column: 3))
        let list = try #require(table["list"]?.array)
        #expect(table.position(of: "list") == TOMLPosition(line: 7, column: 1))
        #expect(list.map { $0.table?.position } == [TOMLPosition(line: 7, column: 1), TOMLPosition(line: 8, column: 1)])
        #expect(list.last?.table?["inline"]?.table?.position == TOMLPosition(line: 9, column: 10))
    }

    @Test("a table implied by a header is located where it is defined")
    func impliedTablePosition() throws {
        let table = try TOMLTable(string: "[a.b]\n[a]\nx = 1\n[c.d]")
        #expect(table.position(of: "a") == TOMLPosition(line: 2, column: 1))
        #expect(table["a"]?.table?.position == TOMLPosition(line: 2, column: 1))
        #expect(table["a"]?.table?.position(of: "b") == TOMLPosition(line: 1, column: 1))
        #expect(table["c"]?.table?.position == TOMLPosition(line: 4, column: 1))
    }

    @Test("columns count Unicode scalars, not bytes")
    func columnsCountScalars() {
        let error = Self.error("a = \"😀é\" x")
        #expect(error == TOMLError(position: TOMLPosition(line: 1, column: 10), message: "expected a newline, found \"x\""))
    }

    @Test("input that is not UTF-8 is an error")
    func invalidUTF8() {
        let prefix = Array("a = \"".utf8)
        let sequences: [[UInt8]] = [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]]
        for bad in sequences {
            let error = Self.error(bytes: prefix + bad + [UInt8(ascii: "\"")])
            #expect(error == TOMLError(position: TOMLPosition(line: 1, column: 6), message: "invalid UTF-8"), "\(bad)")
        }
        #expect(Self.error(bytes: [0xEF, 0xBB, 0xBF] + Array("a = 1".utf8)) == nil)
    }

    @Test("nan keeps its sign and is a float")
    func notANumber() throws {
        let table = try TOMLTable(string: "a = nan\nb = +nan\nc = -nan")
        #expect(table["a"]?.float?.isNaN == true)
        #expect(table["b"]?.float?.isNaN == true)
        #expect(table["c"]?.float?.isNaN == true)
        #expect(table["c"]?.float?.sign == .minus)
    }

    @Test("nesting deeper than the limit is an error, not a stack overflow")
    func nestingLimit() throws {
        let depth = TOMLParser.maximumDepth
        let deepest = "a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(Self.error(deepest) == nil)
        let tooDeep = [
            "a = " + String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1),
            "a = " + String(repeating: "[", count: 100_000),
            "a = " + String(repeating: "{a=", count: 100_000),
            "a = " + String(repeating: "[{a=", count: 100_000),
            String(repeating: "a.", count: 100_000) + "a = 1",
            "[" + String(repeating: "a.", count: 100_000) + "a]",
            "[" + String(repeating: "a.", count: depth - 1) + "a]\nb." + String(repeating: "c.", count: depth) + "d = 1",
        ]
        for document in tooDeep {
            #expect(Self.error(document)?.message == "tables and arrays are nested more than \(depth) deep", "\(document.prefix(20))")
        }
    }

    @Test("accessors return a value of their type only")
    func accessors() throws {
        let table = try TOMLTable(string: "s = 'x'\ni = 1\nf = 1.5\nb = true\nd = 07:32:00\na = [1]\nt = {}")
        #expect(table["s"]?.string == "x")
        #expect(table["i"]?.integer == 1)
        #expect(table["f"]?.float == 1.5)
        #expect(table["b"]?.bool == true)
        #expect(table["a"]?.array == [.integer(1)])
        #expect(table["t"]?.table?.keys == [])
        #expect(table["i"]?.string == nil)
        #expect(table["s"]?.integer == nil)
        #expect(table["i"]?.float == nil)
        #expect(table["s"]?.bool == nil)
        #expect(table["t"]?.array == nil)
        #expect(table["a"]?.table == nil)
        let names = table.keys.compactMap { table[$0]?.typeName }
        #expect(names == ["a string", "an integer", "a float", "a boolean", "a date or time", "an array", "a table"])
        #expect(table.count == 7)
    }

    @Test("tables are equal whatever their positions")
    func equalityIgnoresPositions() throws {
        #expect(try TOMLTable(string: "a = 1\nb.c = 2") == TOMLTable(string: "\n\n   a = 1\n[b]\n  c = 2"))
        #expect(try TOMLTable(string: "a = 1\nb = 2") != TOMLTable(string: "b = 2\na = 1"))
    }

    @Test("errors print as LINE:COLUMN: MESSAGE")
    func errorDescription() {
        #expect(Self.error("a = 1\na = 2")?.description == "2:1: key \"a\" is already defined")
    }

    @Test("mutated documents are parsed or rejected, never trap")
    func mutations() {
        let samples = Self.validDocuments.map { Array($0.document.utf8) }
        let fragments = ["[", "]", "[[", "{", "}", "\"", "'''", "=", ".", ",", "#", "\n", "\r", "\\", "\\u", "0x", "_", ":", "é"]
            .map { Array($0.utf8) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        var outcomes = (valid: 0, invalid: 0)
        for _ in 0..<20_000 {
            var bytes = samples[random(samples.count)]
            for _ in 0...random(3) {
                let position = random(bytes.count + 1)
                switch random(3) {
                case 0: bytes.insert(contentsOf: fragments[random(fragments.count)], at: position)
                case 1 where position < bytes.count: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: random(256)), at: position)
                }
            }
            if Self.error(bytes: bytes) == nil { outcomes.valid += 1 } else { outcomes.invalid += 1 }
        }
        #expect(outcomes.valid > 0)
        #expect(outcomes.invalid > 0)
    }
}
