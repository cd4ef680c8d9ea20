/// A row of `out_painting_task`, as the service reads it.
public struct TaskRecord: Sendable, Equatable {
    public var taskId: String
    public var pictureId: Int64
    public var userId: Int64
    public var status: TaskStatus
    public var outputImageUrl: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var requestId: String?
    public var submitTime: String?
    public var scheduledTime: String?
    public var endTime: String?
    public var retryCount: Int
    public var pollerPartition: Int32?
    public var kafkaPartition: Int32?
    public var kafkaOffset: Int64?
    /// Seconds since `createTime`.
    public var ageSeconds: Int64
    /// `createTime` as epoch milliseconds (second precision), for list-query windows.
    public var createdAtEpochMilliseconds: Int64 = 0

    /// The host's `data` for get_task.
    public func hostJSON(requestId fallbackRequestId: String) -> JSONValue {
        let metrics: JSONValue = switch status {
        case .succeeded: .object([("total", .int(1)), ("succeeded", .int(1)), ("failed", .int(0))])
        case .failed: .object([("total", .int(1)), ("succeeded", .int(0)), ("failed", .int(1))])
        default: .null
        }
        return .object([
            ("requestId", .string(requestId ?? fallbackRequestId)),
            ("output", .object([
                ("taskId", .string(taskId)),
                ("taskStatus", .string(status.rawValue)),
                ("submitTime", .optionalString(submitTime)),
                ("scheduledTime", .optionalString(scheduledTime)),
                ("endTime", .optionalString(endTime)),
                ("outputImageUrl", .optionalString(outputImageUrl)),
                ("code", .optionalString(errorCode)),
                ("message", .optionalString(errorMessage)),
                ("taskMetrics", metrics),
            ])),
        ])
    }
}
