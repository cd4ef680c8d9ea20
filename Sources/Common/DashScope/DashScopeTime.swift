#if canImport(Glibc)
import Glibc
#endif

/// DashScope's clock formats: task times are `yyyy-MM-dd HH:mm:ss.SSS` and list filters
/// `yyyyMMddHHmmss`, both in UTC+8 (Beijing) with no zone suffix.
public enum DashScopeTime {
    static let offsetSeconds = 8 * 3600

    /// `2026-11-29 18:00:00.123` for an epoch time in seconds.
    public static func taskTime(_ epochSeconds: Double) -> String {
        let (tm, millis) = components(epochSeconds)
        return "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2)) "
            + "\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2)).\(pad(millis, 3))"
    }

    /// `20261129180000` for an epoch time in seconds.
    public static func filterTime(_ epochSeconds: Double) -> String {
        let (tm, _) = components(epochSeconds)
        return "\(pad(Int(tm.tm_year) + 1900, 4))\(pad(Int(tm.tm_mon) + 1, 2))\(pad(Int(tm.tm_mday), 2))"
            + "\(pad(Int(tm.tm_hour), 2))\(pad(Int(tm.tm_min), 2))\(pad(Int(tm.tm_sec), 2))"
    }

    /// Parses `yyyyMMddHHmmss` (UTC+8) into epoch seconds.
    public static func parseFilterTime(_ text: String) -> Double? {
        let digits = Array(text.utf8)
        guard digits.count == 14, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        func number(_ range: Range<Int>) -> Int32 { Int32(String(decoding: digits[range], as: UTF8.self))! }
        var tm = Glibc.tm()
        tm.tm_year = number(0..<4) - 1900
        tm.tm_mon = number(4..<6) - 1
        tm.tm_mday = number(6..<8)
        tm.tm_hour = number(8..<10)
        tm.tm_min = number(10..<12)
        tm.tm_sec = number(12..<14)
        guard (0...11).contains(tm.tm_mon), (1...31).contains(tm.tm_mday), (0...23).contains(tm.tm_hour),
              (0...59).contains(tm.tm_min), (0...60).contains(tm.tm_sec) else { return nil }
        return Double(timegm(&tm) - offsetSeconds)
    }

    /// Parses a task time `yyyy-MM-dd HH:mm:ss[.SSS]` (UTC+8) into epoch seconds.
    public static func parseTaskTime(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: " "),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        let compact = String(decoding: bytes[0..<4] + bytes[5..<7] + bytes[8..<10] + bytes[11..<13] + bytes[14..<16] + bytes[17..<19],
                             as: UTF8.self)
        guard let seconds = parseFilterTime(compact) else { return nil }
        guard bytes.count > 19 else { return seconds }
        let fraction = bytes[20...]
        guard bytes[19] == UInt8(ascii: "."), (1...9).contains(fraction.count),
              fraction.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Double("0." + String(decoding: fraction, as: UTF8.self)) else {
            return nil
        }
        return seconds + value
    }

    private static func components(_ epochSeconds: Double) -> (tm, Int) {
        let totalMilliseconds = Int((epochSeconds * 1000).rounded())
        let whole = totalMilliseconds.quotientAndRemainder(dividingBy: 1000)
        var t = time_t(whole.quotient + offsetSeconds)
        var result = tm()
        gmtime_r(&t, &result)
        return (result, whole.remainder)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
