import Synchronization

/// At most `limit` holders at once; `tryAcquire` never waits (a caller over the limit is refused).
public final class ConcurrencyLimit: Sendable {
    public let limit: Int
    private let holders = Atomic<Int>(0)

    public init(limit: Int) { self.limit = max(1, limit) }

    public var current: Int { holders.load(ordering: .relaxed) }

    /// Runs `body` holding a slot, or returns nil without running it when all slots are taken.
    public func ifAvailable<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T? {
        let (_, now) = holders.add(1, ordering: .acquiringAndReleasing)
        defer { holders.subtract(1, ordering: .acquiringAndReleasing) }
        guard now <= limit else { return nil }
        return try body()
    }
}
