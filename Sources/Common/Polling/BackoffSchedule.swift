import Foundation

/// When to ask DashScope about a task again.
///
/// The first check comes `firstCheck` after the task is claimed; then the gap grows by
/// `multiplier` per check up to `cap`, with ±`jitter` spread so that tasks created together do not
/// stay in lock-step. (DashScope's SDKs wait 1,1,2,2,2,4,4,4,5… s with no jitter.)
public struct BackoffSchedule: Sendable, Equatable {
    public var firstCheck: Duration
    public var initial: Duration
    public var multiplier: Double
    public var cap: Duration
    /// Fraction of the delay, 0…1.
    public var jitter: Double

    public init(firstCheck: Duration = .seconds(1), initial: Duration = .seconds(1), multiplier: Double = 1.5,
                cap: Duration = .seconds(10), jitter: Double = 0.2) {
        precondition(multiplier >= 1 && jitter >= 0 && jitter < 1, "invalid back-off schedule")
        self.firstCheck = firstCheck
        self.initial = initial
        self.multiplier = multiplier
        self.cap = cap
        self.jitter = jitter
    }

    /// The delay in milliseconds after `checksDone` (≥ 1) checks found the task still running.
    /// - Parameter random: a value in [0, 1) that picks the jitter.
    public func delayMilliseconds(afterChecks checksDone: Int, random: Double) -> Int64 {
        let base = Double(initial.milliseconds)
        let capped = min(Double(cap.milliseconds), base * pow(multiplier, Double(max(checksDone - 1, 0))))
        let spread = 1 - jitter + 2 * jitter * min(max(random, 0), 1)
        return max(Int64(capped * spread), 50)
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
