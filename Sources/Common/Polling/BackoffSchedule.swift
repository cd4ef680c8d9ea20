import Foundation

/// When a task's owner asks DashScope about it again — the fallback to the account's sweep, used
/// when the sweep is stale (its holder gone, list queries failing or off).
///
/// Status-aware: a PENDING task cannot finish before it starts (in a busy account most of a task's
/// life is spent queued), so it is asked about rarely: `pendingInitial` growing to `pendingCap`. A
/// task seen RUNNING begins a fresh schedule: `initial` growing by `multiplier` per check up to
/// `cap`. The first check comes `firstCheck` after the task is claimed; ±`jitter` spreads tasks
/// created together. (DashScope's SDKs wait 1,1,2,2,2,4,4,4,5… s with no jitter, whatever the status.)
public struct BackoffSchedule: Sendable, Equatable {
    public var firstCheck: Duration
    public var initial: Duration
    public var multiplier: Double
    public var cap: Duration
    public var pendingInitial: Duration
    public var pendingCap: Duration
    /// Fraction of the delay, 0…1.
    public var jitter: Double

    public init(firstCheck: Duration = .seconds(1), initial: Duration = .seconds(1), multiplier: Double = 1.5,
                cap: Duration = .seconds(10), pendingInitial: Duration = .seconds(5), pendingCap: Duration = .seconds(30),
                jitter: Double = 0.2) {
        precondition(multiplier >= 1 && jitter >= 0 && jitter < 1, "invalid back-off schedule")
        self.firstCheck = firstCheck
        self.initial = initial
        self.multiplier = multiplier
        self.cap = cap
        self.pendingInitial = pendingInitial
        self.pendingCap = max(pendingCap, pendingInitial)
        self.jitter = jitter
    }

    /// The delay in milliseconds after `checksDone` (≥ 1) checks found the task still in `status`.
    /// - Parameter random: a value in [0, 1) that picks the jitter.
    public func delayMilliseconds(afterChecks checksDone: Int, status: TaskStatus = .running, random: Double) -> Int64 {
        let (first, ceiling) = status == .pending ? (pendingInitial, pendingCap) : (initial, cap)
        let capped = min(Double(ceiling.milliseconds), Double(first.milliseconds) * pow(multiplier, Double(max(checksDone - 1, 0))))
        let spread = 1 - jitter + 2 * jitter * min(max(random, 0), 1)
        return max(Int64(capped * spread), 50)
    }

    /// The longest gap while in `status`: how long an owner that trusts a fresh sweep waits between
    /// its looks at the row.
    public func longestGapMilliseconds(status: TaskStatus) -> Int64 {
        (status == .pending ? pendingCap : cap).milliseconds
    }
}

extension Duration {
    /// Whole milliseconds.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole microseconds.
    public var microseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }
}
