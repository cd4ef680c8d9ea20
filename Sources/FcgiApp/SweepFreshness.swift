import Common
import Synchronization

/// Whether the account's sweep is fresh, as get_task needs to know before a live check: read from
/// `outpainting_sweeper` at most once a second per process (every worker shares the answer).
/// While the sweep is fresh, get_task answers from MySQL — the sweeper has seen the task, or will
/// within a sweep — and a live check would only spend the account's quota twice.
final class SweepFreshness: Sendable {
    private let staleAfter: Duration
    private let quotaKey: String
    private let cached = Mutex<(fresh: Bool, at: ContinuousClock.Instant)?>(nil)
    static let refreshInterval: Duration = .seconds(1)

    init(staleAfter: Duration, quotaKey: String) {
        self.staleAfter = staleAfter
        self.quotaKey = quotaKey
    }

    /// - Important: reads MySQL on the calling worker's own connection when the answer is older than a second.
    func isFresh(database: MySQLSession) -> Bool {
        let now = ContinuousClock.now
        if let last = cached.withLock({ $0 }), now - last.at < Self.refreshInterval { return last.fresh }
        let fresh = ((try? database.read { try SweeperRepository.health($0, key: quotaKey) }) ?? .none).isFresh(staleAfter: staleAfter)
        cached.withLock { $0 = (fresh, now) }
        return fresh
    }
}
