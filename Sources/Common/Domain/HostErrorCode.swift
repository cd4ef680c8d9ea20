/// The host's business error codes (HOST-CONTRACT.md); every answer is HTTP 200 with one of them.
public enum HostErrorCode: Int, Sendable, CaseIterable {
    case success = 0
    case paramsError = 40000
    case notLogin = 40100
    case noAuth = 40101
    case forbidden = 40300
    case notFound = 40400
    case systemError = 50000
    case operationError = 50001

    public var defaultMessage: String {
        switch self {
        case .success: "ok"
        case .paramsError: "请求参数错误"
        case .notLogin: "未登录"
        case .noAuth: "无权限"
        case .forbidden: "禁止访问"
        case .notFound: "请求数据不存在"
        case .systemError: "系统内部异常"
        case .operationError: "操作失败"
        }
    }
}

/// A failure the responder answers with the host's envelope. `message` is shown to the user, so it
/// never carries internals (SQL, hosts, keys).
public struct BusinessError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: HostErrorCode
    public let message: String

    public init(_ code: HostErrorCode, _ message: String? = nil) {
        self.code = code
        self.message = message ?? code.defaultMessage
    }

    public var description: String { "\(code.rawValue) \(message)" }
}

/// The host's response envelope: `{"code": …, "data": …, "message": …}`.
public enum Envelope {
    public static func success(_ data: JSONValue) -> String {
        JSONValue.object([("code", .int(0)), ("data", data), ("message", .string("ok"))]).serialized
    }

    public static func failure(_ error: BusinessError) -> String {
        JSONValue.object([("code", .int(error.code.rawValue)), ("data", .null), ("message", .string(error.message))]).serialized
    }
}
