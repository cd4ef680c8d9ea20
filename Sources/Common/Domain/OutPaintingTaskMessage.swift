/// The Kafka message that hands a task to the Poller: the original design's
/// `OutPaintingTaskMessage` (taskId, pictureId, userId, createTime, retryCount), as JSON, key = taskId.
///
/// Spring's JsonSerializer wrote `createTime` as epoch milliseconds and ids as numbers; this type
/// writes the same and also reads ids as strings and `createTime` as text, so the Poller accepts the
/// original producer's messages during a switch-over.
public struct OutPaintingTaskMessage: Sendable, Equatable {
    public var taskId: String
    public var pictureId: Int64
    public var userId: Int64
    /// Epoch milliseconds.
    public var createTime: Int64
    public var retryCount: Int
    /// A completion hint ("DashScope says this task finished"): check it now; never sets state.
    public var isCompletionHint: Bool

    public init(taskId: String, pictureId: Int64, userId: Int64, createTime: Int64, retryCount: Int = 0,
                isCompletionHint: Bool = false) {
        self.taskId = taskId
        self.pictureId = pictureId
        self.userId = userId
        self.createTime = createTime
        self.retryCount = retryCount
        self.isCompletionHint = isCompletionHint
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("taskId", .string(taskId)),
            ("pictureId", .int(pictureId)),
            ("userId", .int(userId)),
            ("createTime", .int(createTime)),
            ("retryCount", .int(retryCount)),
        ]
        if isCompletionHint { members.append(("hint", .bool(true))) }
        return .object(members)
    }

    public var encoded: [UInt8] { Array(json.serialized.utf8) }

    public struct DecodingError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func decode(_ bytes: [UInt8]) throws -> OutPaintingTaskMessage {
        let value: JSONValue
        do { value = try JSONParser().parse(bytes) } catch { throw DecodingError(description: "\(error)") }
        guard let taskId = value["taskId"]?.stringValue, !taskId.isEmpty, taskId.utf8.count <= 128 else {
            throw DecodingError(description: "taskId missing or invalid")
        }
        let pictureId = value["pictureId"].flatMap(HostID.parse) ?? 0
        let userId = value["userId"].flatMap(HostID.parse) ?? 0
        var createTime: Int64 = 0
        if let t = value["createTime"] {
            switch t {
            // A fraction or exponent is accepted; a value outside Int64 becomes 0 (found by the
            // fuzzer: converting such a Double traps, and a poison message must never crash the Poller).
            case .number(let text): createTime = Int64(text) ?? Double(text).flatMap { Int64(exactly: $0.rounded(.down)) } ?? 0
            case .string(let text): createTime = Int64(text) ?? 0
            default: break
            }
        }
        let retryCount = value["retryCount"]?.int64Value.map { Int(clamping: $0) } ?? 0
        let hint = value["hint"]?.boolValue ?? false
        if !hint && (pictureId == 0 || userId == 0) {
            throw DecodingError(description: "pictureId or userId missing or invalid")
        }
        return OutPaintingTaskMessage(taskId: taskId, pictureId: pictureId, userId: userId,
                                      createTime: createTime, retryCount: max(retryCount, 0), isCompletionHint: hint)
    }
}
