extension JSONValue {
    /// Compact JSON text: members in the order given, `/` left unescaped, non-ASCII kept as UTF-8.
    public var serialized: String {
        var out = ""
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    public func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                element.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    /// Appends `s` quoted. Runs that need no escape are appended whole (scanning UTF-8 bytes), so
    /// the usual string — ids, URLs, times — costs one append, not one per character.
    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        let utf8 = s.utf8
        var runStart = utf8.startIndex
        var i = runStart
        while i != utf8.endIndex {
            let byte = utf8[i]
            var width = 1
            let escape: String?
            switch byte {
            case UInt8(ascii: "\""): escape = "\\\""
            case UInt8(ascii: "\\"): escape = "\\\\"
            case 0x0A: escape = "\\n"
            case 0x0D: escape = "\\r"
            case 0x09: escape = "\\t"
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                escape = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            case 0xE2:  // U+2028 / U+2029 (E2 80 A8 / E2 80 A9): line breaks to JavaScript
                let next = utf8.index(after: i)
                let last = next == utf8.endIndex ? next : utf8.index(after: next)
                if last != utf8.endIndex, utf8[next] == 0x80, utf8[last] == 0xA8 || utf8[last] == 0xA9 {
                    escape = utf8[last] == 0xA8 ? "\\u2028" : "\\u2029"
                    width = 3
                } else {
                    escape = nil
                }
            default: escape = nil
            }
            if let escape {
                out += s[runStart..<i]
                out += escape
                i = utf8.index(i, offsetBy: width)
                runStart = i
            } else {
                utf8.formIndex(after: &i)
            }
        }
        out += s[runStart..<utf8.endIndex]
        out += "\""
    }
}
