import Synchronization

/// At most `limit` holders per key at once (e.g. a user's creates in flight in this process).
public final class KeyedConcurrencyLimit<Key: Hashable & Sendable>: Sendable {
    private let holders = Mutex<[Key: Int]>([:])

    public init() {}

    /// Runs `body` holding one of `key`'s `limit` places, or returns nil without running it.
    public func ifAvailable<T>(_ key: Key, limit: Int, _ body: () throws -> T) rethrows -> T? {
        let entered = holders.withLock { counts -> Bool in
            guard counts[key, default: 0] < limit else { return false }
            counts[key, default: 0] += 1
            return true
        }
        guard entered else { return nil }
        defer {
            holders.withLock { counts in
                let left = counts[key, default: 1] - 1
                counts[key] = left > 0 ? left : nil
            }
        }
        return try body()
    }
}
