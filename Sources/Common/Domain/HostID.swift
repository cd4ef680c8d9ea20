/// The host's ids are Java `Long`s, sent by its frontend as JSON numbers or numeric strings.
public enum HostID {
    /// A positive Int64 from a JSON number without fraction/exponent or a string of decimal digits.
    /// Anything else (text, zero, negative, fractional, overflowing, junk-suffixed) is nil.
    public static func parse(_ value: JSONValue) -> Int64? {
        switch value {
        case .number(let text): return parse(text)
        case .string(let text): return parse(text)
        default: return nil
        }
    }

    /// Strict decimal digits only (no sign, spaces or NUL), 1…Int64.max.
    public static func parse(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int64(text), value > 0 else { return nil }
        return value
    }
}
