/// Allows at most `limit` events in any one-second window (0 = unlimited); the DevServer's model
/// of DashScope's per-account QPS quotas.
public struct SlidingWindowLimiter: Sendable {
    public var limit: Int
    private var stamps: [Double] = []
    private var head = 0

    public init(limit: Int) {
        self.limit = limit
    }

    /// Records an event at `now` if allowed; returns false when it must be throttled.
    public mutating func allow(at now: Double) -> Bool {
        guard limit > 0 else { return true }
        while head < stamps.count, stamps[head] <= now - 1.0 { head += 1 }
        if head > 4096 { stamps.removeFirst(head); head = 0 }
        guard stamps.count - head < limit else { return false }
        stamps.append(now)
        return true
    }
}
