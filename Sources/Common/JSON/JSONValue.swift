/// A JSON document as parsed from untrusted input or built for output.
///
/// Numbers keep their literal text so that ids larger than 2^53, fractions and exponents can be
/// judged exactly (JSONSerialization and JSONDecoder round through Double or reject silently).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number exactly as written, e.g. `"1890000000000000001"` or `"1.5e0"`.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Object members in document order; a repeated key keeps its last value in lookups.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    // MARK: - Building

    public static func int(_ value: Int64) -> JSONValue { .number(String(value)) }
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }
    public static func double(_ value: Double) -> JSONValue { .number(String(value)) }
    public static func optionalString(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    // MARK: - Reading

    /// The member named `key` of an object (last one wins), or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.0 == key })?.1
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// An integer written without fraction or exponent that fits in Int64.
    public var int64Value: Int64? {
        guard case .number(let text) = self else { return nil }
        return Int64(text)
    }

    /// Any JSON number as a Double (for floats such as `xScale`).
    public var doubleValue: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }
}
