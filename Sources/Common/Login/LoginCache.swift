import DequeModule

/// Valid login answers for a short time, at most `capacity` of them (oldest evicted first).
/// Only successes are stored: a failed or refused login is asked again on the next request, so a
/// session that was just created — or a host that just came back — is never shut out by the cache.
///
/// Not thread-safe: the owner guards it (LoginVerifier keeps it in a Mutex).
public struct LoginCache {
    private struct Entry {
        let user: LoginUser
        let expiresAt: ContinuousClock.Instant
    }

    public let capacity: Int
    public let ttl: Duration
    private var entries: [String: Entry] = [:]
    /// Each key of `entries` once, in first-insertion order.
    private var order: Deque<String> = []

    public init(capacity: Int, ttl: Duration) {
        self.capacity = max(0, capacity)
        self.ttl = ttl
    }

    public var count: Int { entries.count }

    /// The cached user for `key`, if it has not expired at `now`.
    public func user(for key: String, now: ContinuousClock.Instant) -> LoginUser? {
        guard let entry = entries[key], entry.expiresAt > now else { return nil }
        return entry.user
    }

    public mutating func store(_ user: LoginUser, for key: String, now: ContinuousClock.Instant) {
        guard capacity > 0, ttl > .zero else { return }
        if entries.updateValue(Entry(user: user, expiresAt: now + ttl), forKey: key) == nil {
            order.append(key)
        }
        evictExpired(now: now)
        while entries.count > capacity, let oldest = order.popFirst() {
            entries[oldest] = nil
        }
    }

    /// Drops entries from the old end while they have expired (amortised O(1) per store).
    private mutating func evictExpired(now: ContinuousClock.Instant) {
        while let oldest = order.first {
            if let entry = entries[oldest], entry.expiresAt > now { return }
            order.removeFirst()
            entries[oldest] = nil
        }
    }
}
