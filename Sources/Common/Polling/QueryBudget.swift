/// A token bucket for DashScope task queries: `ratePerSecond` tokens a second, at most `burst`
/// saved up. Pure (time passed in, milliseconds) so it is unit-tested without clocks.
///
/// This is the Poller's in-process budget; DashScope's real quota (20 QPS) is per account, so
/// it is configured below that to leave room for FcgiApp's live checks.
public struct QueryBudget: Sendable {
    public let ratePerSecond: Double
    public let burst: Double
    private var tokens: Double
    private var updatedAt: Int64?
    /// No tokens are handed out before this instant (set after a 429).
    private var blockedUntil: Int64 = .min

    public init(ratePerSecond: Double, burst: Double? = nil) {
        precondition(ratePerSecond > 0, "rate must be positive")
        self.ratePerSecond = ratePerSecond
        self.burst = max(burst ?? ratePerSecond, 1)
        self.tokens = self.burst
    }

    /// Whole tokens that could be taken now.
    public mutating func available(now: Int64) -> Int {
        refill(now)
        return now >= blockedUntil ? Int(tokens) : 0
    }

    /// Takes up to `wanted` whole tokens; returns how many were granted.
    public mutating func take(_ wanted: Int, now: Int64) -> Int {
        refill(now)
        guard now >= blockedUntil else { return 0 }
        let granted = min(wanted, Int(tokens))
        tokens -= Double(granted)
        return max(granted, 0)
    }

    /// Milliseconds until at least one token is available.
    public mutating func millisecondsUntilAvailable(now: Int64) -> Int64 {
        refill(now)
        let blocked = now >= blockedUntil ? 0 : blockedUntil - now
        let missing = tokens >= 1 ? 0 : Int64(((1 - tokens) / ratePerSecond * 1000).rounded(.up))
        return max(blocked, missing)
    }

    /// After DashScope answered 429: hand out nothing for `milliseconds` and drop saved tokens.
    public mutating func penalize(forMilliseconds milliseconds: Int64, now: Int64) {
        refill(now)
        tokens = 0
        blockedUntil = max(blockedUntil, now + milliseconds)
    }

    private mutating func refill(_ now: Int64) {
        if let updatedAt, now > updatedAt {
            tokens = min(burst, tokens + Double(now - updatedAt) * ratePerSecond / 1000)
        }
        updatedAt = max(updatedAt ?? now, now)
    }
}
