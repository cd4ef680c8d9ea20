/// The arithmetic of the account-wide DashScope query bucket kept in MySQL
/// (`outpainting_query_quota`), pure so it is unit-tested; `QuotaRepository` stores it.
///
/// Sizing: DashScope allows `accountQPS` task queries per second per account, counted in a sliding
/// one-second window. A token bucket lets through at most `burst + rate × 1 s` in any second, so the
/// bucket is sized to stay below the quota with a 5 % margin for network jitter:
/// `burst = max(1, quota / 5)`, `rate = quota × 0.95 − burst`.
///
/// On a 429 (from any instance) the rate is halved (not below a tenth of the configured rate) and
/// nothing is handed out for the pause. The account's quota is often shared with other applications
/// of the same Aliyun account, so the rate at which the 429 came becomes a ceiling (less 10 %): the
/// rate grows back quickly (5 % of the configured rate per second) up to it, and only slowly
/// (0.2 % per second, the same pace at which the ceiling itself relaxes) above it — an account
/// that allows half the configured rate sees a 429 about every half minute under full load, not
/// every few seconds. The burst shrinks with the rate, so a saved-up burst cannot overshoot either.
/// Two minutes without a 429 and the ceiling is forgotten (a burst of 429s — an incident, not a
/// neighbour — must not slow the account for long).
public struct SharedQuota: Sendable, Equatable {
    public var tokens: Double
    public var rate: Double
    public var configuredRate: Double
    public var burst: Double
    /// The rate the last 429 came at (less 10 %), relaxing upwards; nil once back at the configured
    /// rate or after `ceilingMemory` without a 429.
    public var ceiling: Double?
    /// Seconds since the last 429 (while a ceiling is kept).
    public var quietSeconds: Double

    /// Growth per second, as shares of the configured rate: below the ceiling, and above it.
    static let fastGrowth = 0.05
    static let slowGrowth = 0.002
    /// A ceiling is kept this long after the last 429.
    public static let ceilingMemory: Double = 120

    public init(tokens: Double, rate: Double, configuredRate: Double, burst: Double, ceiling: Double? = nil,
                quietSeconds: Double = 0) {
        self.tokens = tokens
        self.rate = rate
        self.configuredRate = configuredRate
        self.burst = burst
        self.ceiling = ceiling
        self.quietSeconds = quietSeconds
    }

    /// A full bucket for an account quota of `accountQPS` queries per second.
    public init(accountQPS: Double) {
        let burst = max(1, (accountQPS / 5).rounded(.down))
        let rate = max(accountQPS * 0.95 - burst, 0.5)
        self.init(tokens: burst, rate: rate, configuredRate: rate, burst: burst)
    }

    /// The most tokens saved up at the current rate.
    public var currentBurst: Double { max(1, burst * min(rate / configuredRate, 1)) }

    /// The state after `elapsedSeconds` without a 429: tokens refilled, rate grown back.
    public func advanced(by elapsedSeconds: Double) -> SharedQuota {
        guard elapsedSeconds > 0 else { return self }
        var next = self
        let fast = configuredRate * Self.fastGrowth * elapsedSeconds
        next.quietSeconds = quietSeconds + elapsedSeconds
        if let ceiling {
            let relaxed = ceiling + configuredRate * Self.slowGrowth * elapsedSeconds
            next.ceiling = relaxed >= configuredRate || next.quietSeconds >= Self.ceilingMemory ? nil : relaxed
            // Quickly back up to the ceiling, then only as fast as the ceiling relaxes.
            next.rate = rate < ceiling ? min(rate + fast, relaxed) : rate + configuredRate * Self.slowGrowth * elapsedSeconds
        } else {
            next.rate = rate + fast
        }
        next.rate = min(next.rate, configuredRate)
        next.tokens = min(next.currentBurst, tokens + rate * elapsedSeconds)
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
        tokens = min(currentBurst, tokens + Double(max(count, 0)))
    }

    /// After a 429: remember the rate as too high, halve it, drop the saved tokens.
    public mutating func throttle() {
        ceiling = rate * 0.9
        quietSeconds = 0
        rate = max(configuredRate * 0.1, rate * 0.5)
        tokens = 0
    }

    /// Milliseconds until one token is available at the current rate.
    public var millisecondsUntilNextToken: Int64 {
        tokens >= 1 ? 0 : Int64(((1 - tokens) / rate * 1000).rounded(.up))
    }
}
