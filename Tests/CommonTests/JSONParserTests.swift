import Testing
@testable import Common

@Suite("JSON parser and writer")
struct JSONParserTests {
    @Test("numbers keep their literal text, so 64-bit ids survive")
    func bigIntegers() throws {
        let value = try JSONParser.parse(#"{"pictureId": 1890000000000000001, "x": 1.5e0}"#)
        #expect(value["pictureId"] == .number("1890000000000000001"))
        #expect(value["pictureId"]?.int64Value == 1_890_000_000_000_000_001)
        #expect(value["x"]?.doubleValue == 1.5)
    }

    @Test("strings decode escapes and surrogate pairs")
    func escapes() throws {
        let value = try JSONParser.parse(#"["a\"b\\c\/d\n", "\u00e9\ud83d\ude00", "扩图"]"#)
        #expect(value == .array([.string("a\"b\\c/d\n"), .string("é😀"), .string("扩图")]))
    }

    @Test("malformed documents are rejected", arguments: [
        "", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "1e", "tru", "nul", "\"abc", "\"\u{01}\"",
        "\"\\x\"", "\"\\ud800\"", "{\"a\" 1}", "[1 2]", "1 2", "{\"a\":1}x", "NaN", "'a'",
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test("nesting deeper than the limit is rejected, not a stack overflow")
    func depth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
        #expect((try? JSONParser.parse(String(repeating: "[", count: 10) + String(repeating: "]", count: 10))) != nil)
    }

    @Test("invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try JSONParser().parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test("serialization: member order kept, slashes unescaped, control characters escaped")
    func serialization() throws {
        let value = JSONValue.object([("b", .int(1)), ("a", .string("http://x/y\u{01}\"")), ("n", .null), ("t", .bool(true))])
        #expect(value.serialized == #"{"b":1,"a":"http://x/y\u0001\"","n":null,"t":true}"#)
        #expect(try JSONParser.parse(value.serialized) == value)
    }
}
