/// What to do with a followed task after one status query: pure, so every branch is unit-tested.
public enum CheckDecision: Sendable, Equatable {
    /// DashScope reports a final status: store it and stop following.
    case finished(TaskStatus)
    /// Still PENDING/RUNNING/SUSPENDED: store what was seen and check again after `inMilliseconds`;
    /// `checks` is the count in this status (a task that moved from PENDING to RUNNING starts at 1).
    case stillRunning(TaskStatus, nextInMilliseconds: Int64, checks: Int)
    /// The query failed: check again later without counting it as a check.
    case retryLater(inMilliseconds: Int64, throttled: Bool)
    /// Past the task's deadline and still not final: give up (stored as UNKNOWN).
    case expire

    /// Pauses after a failed query: 429 waits at least this long (quota windows are one second).
    public static let throttledPauseMilliseconds: Int64 = 2000

    /// - Parameters:
    ///   - checks: checks made while the task was in `lastStatus`.
    public static func decide(checks: Int, lastStatus: TaskStatus = .pending, deadlineAt: Int64, now: Int64,
                              result: Result<DashScopeTaskView, DashScopeError>,
                              backoff: BackoffSchedule, random: Double) -> CheckDecision {
        switch result {
        case .success(let view):
            // UNKNOWN is re-checked like a task still queued: the store makes it final only once
            // DashScope has said so for long enough (TaskRepository.UnknownRule).
            if view.status.isFinal && view.status != .unknown { return .finished(view.status) }
            if now >= deadlineAt { return .expire }
            let inStatus = view.status == lastStatus ? checks + 1 : 1
            let schedule: TaskStatus = view.status == .unknown ? .pending : view.status
            return .stillRunning(view.status, nextInMilliseconds: backoff.delayMilliseconds(afterChecks: inStatus, status: schedule,
                                                                                            random: random),
                                 checks: inStatus)
        case .failure(let error):
            if now >= deadlineAt { return .expire }
            let delay = backoff.delayMilliseconds(afterChecks: checks + 1, status: lastStatus, random: random)
            if error.kind == .throttled {
                let retryAfter = error.retryAfterSeconds.map { Int64($0 * 1000) } ?? 0
                return .retryLater(inMilliseconds: max(delay, throttledPauseMilliseconds, retryAfter), throttled: true)
            }
            return .retryLater(inMilliseconds: delay, throttled: false)
        }
    }
}
