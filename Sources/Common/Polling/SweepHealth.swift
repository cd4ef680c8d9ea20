/// Whether the account's sweeper is doing its job, as the other Poller instances and FcgiApp judge
/// it from `outpainting_sweeper`: while the sweep is fresh they trust it — no per-task polling, no
/// get_task live checks — and when it is stale (no holder, its list queries failing, list queries
/// off) they fall back to per-task polling with back-off.
public struct SweepHealth: Sendable, Equatable {
    /// Milliseconds since the last successful RUNNING sweep; nil: never.
    public var sinceLastSweepMs: Int64?
    /// The interval the holder sweeps at.
    public var intervalMs: Int64
    /// How long the holder's last PENDING pass took (its stamps on waiting tasks are that old at most).
    public var lastPendingPassMs: Int64

    public init(sinceLastSweepMs: Int64?, intervalMs: Int64, lastPendingPassMs: Int64) {
        self.sinceLastSweepMs = sinceLastSweepMs
        self.intervalMs = intervalMs
        self.lastPendingPassMs = lastPendingPassMs
    }

    /// No sweeper has ever swept (or its row cannot be read).
    public static let none = SweepHealth(sinceLastSweepMs: nil, intervalMs: 0, lastPendingPassMs: 0)

    /// Fresh while the last sweep is younger than `staleAfter` and than four of its intervals (a
    /// holder at a low budget sweeps less often; a missed round or two is not yet stale).
    public func isFresh(staleAfter: Duration) -> Bool {
        guard let since = sinceLastSweepMs else { return false }
        return since <= max(staleAfter.milliseconds, 4 * intervalMs)
    }

    /// While the sweep is fresh, a task not seen by anyone for this long gets a single GET from its
    /// owner anyway: the safety net for a task the lists do not show. At least `unseenAfter`, and
    /// twice the last PENDING pass (a long backlog is seen once per pass).
    public func unseenRecheckMs(unseenAfter: Duration) -> Int64 {
        max(unseenAfter.milliseconds, 2 * lastPendingPassMs)
    }
}
