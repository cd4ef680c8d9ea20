import Synchronization
import DequeModule

/// Values kept for a time-to-live, at most `capacity` of them (oldest evicted first). Used for
/// valid login answers (only successes are stored, so a new session or a host that came back is
/// never shut out) and for final tasks (a final row never changes).
///
/// Not thread-safe: the owner guards it (in a Mutex).
public struct ExpiringCache<Value> {
    private struct Entry {
        let value: Value
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

    /// The value for `key`, if it has not expired at `now`.
    public func value(for key: String, now: ContinuousClock.Instant) -> Value? {
        guard let entry = entries[key], entry.expiresAt > now else { return nil }
        return entry.value
    }

    public mutating func store(_ value: Value, for key: String, now: ContinuousClock.Instant) {
        guard capacity > 0, ttl > .zero else { return }
        if entries.updateValue(Entry(value: value, expiresAt: now + ttl), forKey: key) == nil {
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

/// Valid login answers by cookie.
public typealias LoginCache = ExpiringCache<LoginUser>

/// An ExpiringCache shared by threads. Lookups take a shared (reader) lock: every get_task reads
/// two of these caches, and with a Mutex 16 worker threads on 2 cores spent 14 % of the
/// responder's CPU spinning for it (perf, W3). Stores are rare (a new session, a task turning final).
public final class SharedExpiringCache<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `cache` is only read under `lock.read` and only written under `lock.write`.
    private var cache: ExpiringCache<Value>
    private let lock = ReadWriteLock()

    public init(capacity: Int, ttl: Duration) { cache = ExpiringCache(capacity: capacity, ttl: ttl) }

    public func value(for key: String, now: ContinuousClock.Instant = .now) -> Value? {
        lock.read { cache.value(for: key, now: now) }
    }

    public func store(_ value: Value, for key: String, now: ContinuousClock.Instant = .now) {
        lock.write { cache.store(value, for: key, now: now) }
    }
}
