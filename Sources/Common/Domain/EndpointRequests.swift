import Foundation

/// The create_task body, parsed and validated: `pictureId` (a JSON number or numeric string) and
/// optional `parameters`. Every bad input is a 40000 `BusinessError`, never a crash.
public struct CreateTaskRequest: Sendable, Equatable {
    public let pictureID: Int64
    public let parameters: OutPaintingParameters

    public static func parse(body: [UInt8], bodyTooLarge: Bool = false) throws(BusinessError) -> CreateTaskRequest {
        guard !bodyTooLarge else { throw BusinessError(.paramsError, "请求体过大") }
        guard !body.isEmpty else { throw BusinessError(.paramsError) }
        guard let json = try? JSONParser().parse(body), case .object = json else {
            throw BusinessError(.paramsError, "请求体必须是 JSON 对象")
        }
        guard let raw = json["pictureId"], let pictureID = HostID.parse(raw) else {
            throw BusinessError(.paramsError, "pictureId 无效")
        }
        return CreateTaskRequest(pictureID: pictureID, parameters: try OutPaintingParameters.parse(json["parameters"]))
    }

    /// Whether a `Content-Type` is JSON, as the host's Spring `@RequestBody` requires: the media
    /// type `application/json` with any parameters (`;charset=UTF-8`). A cross-site form can only
    /// send `text/plain`, urlencoded or multipart bodies, so it never starts a paid task.
    public static func isJSON(contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// The refusal for any other body type (HTTP 415, the host's envelope).
    public static let notJSON = BusinessError(.paramsError, "请求参数错误：Content-Type 必须是 application/json")
}

/// The get_task query: `taskId` present, not blank, at most 128 bytes, printable ASCII.
public enum GetTaskRequest {
    public static let maximumTaskIDLength = 128

    public static func taskID(fromQuery query: String) throws(BusinessError) -> String {
        guard let value = queryValue("taskId", in: query) ?? nil, value.utf8.contains(where: { $0 != 0x20 }) else {
            throw BusinessError(.paramsError, "taskId 不能为空")
        }
        guard value.utf8.count <= maximumTaskIDLength, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw BusinessError(.paramsError, "taskId 无效")
        }
        return value
    }

    /// The first `name=` parameter of a query string, percent-decoded: nil when absent, `.some(nil)`
    /// when its escapes are malformed or not UTF-8, `""` for a bare `name`.
    public static func queryValue(_ name: String, in query: String) -> String?? {
        // Split on bytes: '&' and '=' are ASCII, and a Character-level split costs far more per request.
        for pair in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let pair = Substring(pair)
            guard let eq = pair.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                if pair == name { return .some("") }
                continue
            }
            guard pair[..<eq] == name else { continue }
            return .some(percentDecode(pair[pair.utf8.index(after: eq)...]))
        }
        return nil
    }

    /// Decodes `%XX` and `+`; nil for a malformed escape or bytes that are not UTF-8.
    public static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let h = iterator.next(), let l = iterator.next(), let hi = hexValue(h), let lo = hexValue(l) else { return nil }
                bytes.append(hi << 4 | lo)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
