import Common
import Foundation
import Synchronization

/// DashScope as the DevServer plays it: one account's tasks, its rate limits, injected faults and
/// counters, shared by all request handlers under one lock.
final class SimulatedDashScope: Sendable {
    struct Stats: Sendable {
        var creates = 0
        /// Every task-management request (single, list, cancel), throttled or not.
        var queries = 0
        /// Every 429, for queries and creates.
        var throttled = 0
        /// The 429s of creates alone.
        var createThrottled = 0
        var serverErrors = 0
        /// Creates received and not yet answered (e.g. waiting out `latency_ms`); not reset.
        var createsInFlight = 0
        /// Calls of the login stand-in: in all, in flight now, and the most ever in flight at once.
        var logins = 0
        var loginsInFlight = 0
        var loginsMaxInFlight = 0
        /// Of `queries`: single-task GETs and list pages.
        var singleQueries = 0
        var listQueries = 0
    }

    private struct State {
        var account: SimulatedAccount
        var settings: SimulationSettings
        var queryLimiter: SlidingWindowLimiter
        var createLimiter: SlidingWindowLimiter
        var stats = Stats()
    }

    private let state: Mutex<State>

    init(settings: SimulationSettings) {
        state = Mutex(State(account: SimulatedAccount(maxRunning: settings.maxRunning), settings: settings,
                            queryLimiter: SlidingWindowLimiter(limit: settings.queryQPSLimit),
                            createLimiter: SlidingWindowLimiter(limit: settings.createQPSLimit)))
    }

    static var now: Double { Date().timeIntervalSince1970 }

    var settings: SimulationSettings { state.withLock { $0.settings } }

    func update(_ change: (inout SimulationSettings) -> Void) -> SimulationSettings {
        state.withLock { s in
            change(&s.settings)
            s.account.maxRunning = s.settings.maxRunning
            s.queryLimiter.limit = s.settings.queryQPSLimit
            s.createLimiter.limit = s.settings.createQPSLimit
            return s.settings
        }
    }

    var stats: Stats { state.withLock { $0.stats } }
    func resetStats() {
        state.withLock { $0.stats = Stats(createsInFlight: $0.stats.createsInFlight, loginsInFlight: $0.stats.loginsInFlight) }
    }

    /// Runs one login call, counted in the login stats meanwhile.
    func inFlightLogin<T>(_ body: () async throws -> T) async rethrows -> T {
        state.withLock { s in
            s.stats.logins += 1
            s.stats.loginsInFlight += 1
            s.stats.loginsMaxInFlight = max(s.stats.loginsMaxInFlight, s.stats.loginsInFlight)
        }
        defer { state.withLock { $0.stats.loginsInFlight -= 1 } }
        return try await body()
    }

    /// Runs one create request's handling, counted in `createsInFlight` meanwhile.
    func inFlightCreate<T>(_ body: () async throws -> T) async rethrows -> T {
        state.withLock { $0.stats.createsInFlight += 1 }
        defer { state.withLock { $0.stats.createsInFlight -= 1 } }
        return try await body()
    }

    // MARK: - Admission

    enum Admission: Equatable { case allowed, throttled, serverError, slow(milliseconds: Int), malformed }

    /// Counts a create and applies the submission quota.
    func admitCreate() -> Admission {
        state.withLock { s in
            s.stats.creates += 1
            guard s.createLimiter.allow(at: Self.now) else {
                s.stats.throttled += 1
                s.stats.createThrottled += 1
                return .throttled
            }
            return .allowed
        }
    }

    enum QueryKind { case single, list, cancel }

    /// Counts a task-management request and applies the query quota and injected faults.
    func admitQuery(_ kind: QueryKind) -> Admission {
        state.withLock { s in
            s.stats.queries += 1
            switch kind {
            case .single: s.stats.singleQueries += 1
            case .list: s.stats.listQueries += 1
            case .cancel: break
            }
            guard s.queryLimiter.allow(at: Self.now) else { s.stats.throttled += 1; return .throttled }
            var roll = Double.random(in: 0..<1)
            let settings = s.settings
            if roll < settings.queryError429Rate { s.stats.throttled += 1; return .throttled }
            roll -= settings.queryError429Rate
            if roll < settings.queryError500Rate { s.stats.serverErrors += 1; return .serverError }
            roll -= settings.queryError500Rate
            if roll < settings.querySlowRate { return .slow(milliseconds: settings.slowMs) }
            roll -= settings.querySlowRate
            if roll < settings.queryMalformedRate { return .malformed }
            return .allowed
        }
    }

    // MARK: - Tasks

    func submit(durationMs: Int, outcome: TaskStatus) -> String {
        let id = UUID().uuidString.lowercased()
        state.withLock { $0.account.submit(taskId: id, at: Self.now, durationMs: durationMs, outcome: outcome) }
        return id
    }

    func task(_ id: String) -> (SimulatedAccount.Task, TaskStatus)? {
        state.withLock { $0.account.task(id, at: Self.now) }
    }

    func listed(status: TaskStatus?) -> [(SimulatedAccount.Task, TaskStatus)] {
        state.withLock { $0.account.listed(status: status, at: Self.now) }
    }

    /// Tasks finished since the last call (and the events' target), for completion events.
    func drainFinished() -> (String?, [(SimulatedAccount.Task, TaskStatus)]) {
        state.withLock { s in
            let finished = s.account.drainFinished(at: Self.now)
            return (s.settings.eventTargetURL, finished)
        }
    }

    func cancel(_ id: String) -> SimulatedAccount.CancelResult {
        state.withLock { $0.account.cancel(id, at: Self.now) }
    }
}
