/// What to do with a followed task after one status query: pure, so every branch is unit-tested.
public enum CheckDecision: Sendable, Equatable {
    /// DashScope reports a final status: store it and stop following.
    case finished(TaskStatus)
    /// Still PENDING/RUNNING/SUSPENDED: store what was seen and check again after `inMilliseconds`.
    case stillRunning(TaskStatus, nextInMilliseconds: Int64)
    /// The query failed: check again later without counting it as a check.
    case retryLater(inMilliseconds: Int64, throttled: Bool)
    /// Past the task's deadline and still not final: give up (stored as UNKNOWN).
    case expire

    /// Pauses after a failed query: 429 waits at least this long (quota windows are one second).
    public static let throttledPauseMilliseconds: Int64 = 2000

    public static func decide(checks: Int, deadlineAt: Int64, now: Int64,
                              result: Result<DashScopeTaskView, DashScopeError>,
                              backoff: BackoffSchedule, random: Double) -> CheckDecision {
        switch result {
        case .success(let view):
            if view.status.isFinal { return .finished(view.status) }
            if now >= deadlineAt { return .expire }
            return .stillRunning(view.status, nextInMilliseconds: backoff.delayMilliseconds(afterChecks: checks + 1, random: random))
        case .failure(let error):
            if now >= deadlineAt { return .expire }
            let delay = backoff.delayMilliseconds(afterChecks: checks + 1, random: random)
            if error.kind == .throttled {
                let retryAfter = error.retryAfterSeconds.map { Int64($0 * 1000) } ?? 0
                return .retryLater(inMilliseconds: max(delay, throttledPauseMilliseconds, retryAfter), throttled: true)
            }
            return .retryLater(inMilliseconds: delay, throttled: false)
        }
    }
}
