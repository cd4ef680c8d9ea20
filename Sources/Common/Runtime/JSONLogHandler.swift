#if canImport(Glibc)
import Glibc
#endif
import Logging

/// One JSON object per line on stderr (`LOG_FORMAT=json`), for log shippers:
/// `{"ts":"2026-11-29T20:00:00.123Z","level":"info","logger":"outpainting.poller","msg":"…","taskId":"…"}`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        print(Self.line(timestamp: Self.now(), level: event.level, label: label, message: "\(event.message)",
                        metadata: metadata.merging(event.metadata ?? [:]) { _, new in new },
                        source: event.source, file: event.file, line: event.line))
    }

    /// The line for one event; fields in a fixed order, then metadata sorted by key.
    static func line(timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata,
                     source: String, file: String, line: UInt) -> String {
        var members: [(String, JSONValue)] = [("ts", .string(timestamp)), ("level", .string(level.rawValue)),
                                              ("logger", .string(label)), ("msg", .string(message))]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !["ts", "level", "logger", "msg"].contains(key) {
            members.append((key, json(value)))
        }
        if level >= .error { members.append(("source", .string("\(file.split(separator: "/").last ?? ""):\(line)"))) }
        return JSONValue.object(members).serialized
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(json))
        case .dictionary(let d): .object(d.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) })
        }
    }

    private func print(_ text: String) {
        let line = text + "\n"
        // One write per line: lines from several threads never interleave.
        line.utf8CString.withUnsafeBufferPointer { buffer in
            _ = write(2, buffer.baseAddress, buffer.count - 1)
        }
    }

    /// UTC, milliseconds, RFC 3339.
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var t = spec.tv_sec
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(spec.tv_nsec / 1_000_000, 3))Z"
    }
}
