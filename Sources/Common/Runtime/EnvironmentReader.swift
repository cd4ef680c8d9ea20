#if canImport(Glibc)
import Glibc
#endif

/// Reads typed settings from environment variables, with defaults, and fails with a message that
/// names the variable when a value does not parse (a typo must not silently become the default).
public struct EnvironmentReader: Sendable {
    public struct InvalidValue: Error, CustomStringConvertible {
        public let name: String
        public let value: String
        public let expected: String
        public var description: String { "environment variable \(name)=\"\(value)\" is not \(expected)" }

        public init(name: String, value: String, expected: String) {
            self.name = name
            self.value = value
            self.expected = expected
        }
    }

    private let values: [String: String]

    public init(_ values: [String: String]) {
        self.values = values
    }

    /// The process environment.
    public static var process: EnvironmentReader {
        var values: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let pair = String(cString: entry)
            if let eq = pair.firstIndex(of: "=") {
                values[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
            }
            pointer += 1
        }
        return EnvironmentReader(values)
    }

    /// The raw value, nil when unset or empty.
    public func raw(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    public func string(_ name: String, default defaultValue: String) -> String {
        raw(name) ?? defaultValue
    }

    public func int(_ name: String, default defaultValue: Int, range: ClosedRange<Int>? = nil) throws -> Int {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Int(text), range.map({ $0.contains(value) }) ?? true else {
            throw InvalidValue(name: name, value: text, expected: range.map { "an integer in \($0)" } ?? "an integer")
        }
        return value
    }

    public func double(_ name: String, default defaultValue: Double, range: ClosedRange<Double>? = nil) throws -> Double {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Double(text), value.isFinite, range.map({ $0.contains(value) }) ?? true else {
            throw InvalidValue(name: name, value: text, expected: range.map { "a number in \($0)" } ?? "a number")
        }
        return value
    }

    public func bool(_ name: String, default defaultValue: Bool) throws -> Bool {
        guard let text = raw(name)?.lowercased() else { return defaultValue }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw InvalidValue(name: name, value: text, expected: "a boolean (true/false)")
        }
    }

    /// A duration in milliseconds (`NAME_MS` variables).
    public func milliseconds(_ name: String, default defaultValue: Int) throws -> Duration {
        .milliseconds(try int(name, default: defaultValue, range: 0...Int(Int32.max)))
    }

    /// A duration in milliseconds (`NAME_MS` variables), its default given as a duration.
    public func milliseconds(_ name: String, default defaultValue: Duration) throws -> Duration {
        try milliseconds(name, default: Int(defaultValue.milliseconds))
    }

    /// Every variable whose name starts with `prefix`, with the prefix removed, lower-cased and
    /// `_` turned into `.`: `KAFKA_PRODUCER_LINGER_MS=5` → `linger.ms=5`. This lets operators set
    /// any librdkafka property without a code change.
    public func passthrough(prefix: String) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in values where name.hasPrefix(prefix) && name.count > prefix.count {
            let key = name.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: ".")
            out[key] = value
        }
        return out
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
