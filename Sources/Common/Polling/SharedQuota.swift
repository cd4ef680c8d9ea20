/// The arithmetic of the account-wide DashScope query bucket kept in MySQL
/// (`outpainting_query_quota`), pure so it is unit-tested; `QuotaRepository` stores it.
///
/// Sizing: DashScope allows `accountQPS` task queries per second per account, counted in a sliding
/// one-second window. A token bucket lets through at most `burst + rate × 1 s` in any second, so the
/// bucket is sized to stay below the quota with a 5 % margin for network jitter:
/// `burst = max(1, quota / 5)`, `rate = quota × 0.95 − burst`.
///
/// On a 429 (from any instance) the rate is halved (not below a tenth of the configured rate) and
/// nothing is handed out for the pause; it then grows back by 5 % of the configured rate per second
/// (AIMD), so every instance slows down together.
public struct SharedQuota: Sendable, Equatable {
    public var tokens: Double
    public var rate: Double
    public var configuredRate: Double
    public var burst: Double

    public init(tokens: Double, rate: Double, configuredRate: Double, burst: Double) {
        self.tokens = tokens
        self.rate = rate
        self.configuredRate = configuredRate
        self.burst = burst
    }

    /// A full bucket for an account quota of `accountQPS` queries per second.
    public init(accountQPS: Double) {
        let burst = max(1, (accountQPS / 5).rounded(.down))
        let rate = max(accountQPS * 0.95 - burst, 0.5)
        self.init(tokens: burst, rate: rate, configuredRate: rate, burst: burst)
    }

    /// The state after `elapsedSeconds` without a 429: tokens refilled, rate grown back.
    public func advanced(by elapsedSeconds: Double) -> SharedQuota {
        guard elapsedSeconds > 0 else { return self }
        var next = self
        next.tokens = min(burst, tokens + rate * elapsedSeconds)
        next.rate = min(configuredRate, rate + configuredRate * 0.05 * elapsedSeconds)
        return next
    }

    /// Takes up to `wanted` whole tokens.
    public mutating func take(_ wanted: Int) -> Int {
        let granted = max(0, min(wanted, Int(tokens.rounded(.down))))
        tokens -= Double(granted)
        return granted
    }

    /// Returns unused tokens.
    public mutating func giveBack(_ count: Int) {
        tokens = min(burst, tokens + Double(max(count, 0)))
    }

    /// After a 429: halve the rate, drop the saved tokens.
    public mutating func throttle() {
        rate = max(configuredRate * 0.1, rate * 0.5)
        tokens = 0
    }

    /// Milliseconds until one token is available at the current rate.
    public var millisecondsUntilNextToken: Int64 {
        tokens >= 1 ? 0 : Int64(((1 - tokens) / rate * 1000).rounded(.up))
    }
}
