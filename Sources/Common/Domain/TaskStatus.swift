/// DashScope's task status words, as stored in `out_painting_task.taskStatus`.
public enum TaskStatus: String, Sendable, CaseIterable, Codable {
    case pending = "PENDING"
    case running = "RUNNING"
    case suspended = "SUSPENDED"
    case succeeded = "SUCCEEDED"
    case failed = "FAILED"
    case canceled = "CANCELED"
    case unknown = "UNKNOWN"

    /// Final states never change again (DashScope's SDKs stop polling on exactly these).
    public var isFinal: Bool {
        switch self {
        case .succeeded, .failed, .canceled, .unknown: true
        case .pending, .running, .suspended: false
        }
    }

    /// Progress order: a status may only move to one of equal or higher rank, so a late or
    /// replayed answer never moves a task backwards.
    public var rank: Int {
        switch self {
        case .pending: 0
        case .running, .suspended: 1
        case .succeeded, .failed, .canceled, .unknown: 2
        }
    }

    public static let finalRawValues = allCases.filter(\.isFinal).map(\.rawValue)
}
