/// A value bound to a prepared-statement parameter. Values are always bound, never spliced.
public enum MySQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case string(String)

    public static func int(_ value: Int) -> MySQLValue { .int(Int64(value)) }
    public static func optional(_ value: String?) -> MySQLValue { value.map(MySQLValue.string) ?? .null }
    public static func optional(_ value: Int64?) -> MySQLValue { value.map(MySQLValue.int) ?? .null }
}

/// One row of a result set, every column as text (or nil for SQL NULL).
public struct MySQLRow: Sendable {
    public let columns: [String?]
    public let names: [String]

    public subscript(_ name: String) -> String? {
        guard let i = names.firstIndex(of: name) else {
            preconditionFailure("column \(name) is not in the result set")
        }
        return columns[i]
    }

    public func int64(_ name: String) -> Int64? { self[name].flatMap { Int64($0) } }
    public func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
}

/// What a statement without a result set did.
public struct MySQLExecuteResult: Sendable {
    public let affectedRows: UInt64
    public let lastInsertID: UInt64
}
