/// Decides how a round learns the statuses of its due tasks: one single-task query each, or a
/// list query sweep (`GET /tasks` over a time window, 100 tasks a page) followed by single queries
/// only for the tasks the sweep shows finished (their result URL or error is only in the single view).
///
/// Pure: the engine performs what it decides.
public enum RoundPlanner {
    public static let pageSize = 100
    /// Slack before the earliest creation time: DashScope stamps `submit_time` before our row's
    /// `createTime`, and the clocks differ.
    public static let windowSlackBeforeMs: Int64 = 120_000
    public static let windowSlackAfterMs: Int64 = 60_000
    /// DashScope refuses list windows longer than 24 h.
    public static let maximumWindowMs: Int64 = 24 * 3600 * 1000

    /// A sweep costs `expectedPages` queries; it pays off when more tasks are due than that (each
    /// due task would otherwise cost one query; finished ones cost their single query either way).
    public static func useListSweep(dueCount: Int, expectedPages: Int) -> Bool {
        dueCount >= 2 && dueCount > max(expectedPages, 1)
    }

    /// The window (epoch milliseconds) covering tasks created at `createdAt`, capped at 24 h.
    public static func window(createdAt: [Int64], nowEpochMs: Int64) -> (start: Int64, end: Int64) {
        let end = nowEpochMs + windowSlackAfterMs
        let earliest = (createdAt.filter { $0 > 0 }.min() ?? nowEpochMs) - windowSlackBeforeMs
        return (max(earliest, end - maximumWindowMs), end)
    }

    public struct SweepOutcome: Sendable, Equatable {
        /// Due or waiting tasks the sweep showed final: fetch each with a single query.
        public var fetch: [String] = []
        /// Due tasks the sweep showed still PENDING/RUNNING/SUSPENDED.
        public var stillRunning: [(String, TaskStatus)] = []
        /// Due tasks the sweep did not see (beyond its pages, or outside the window): single query.
        public var unseen: [String] = []

        public static func == (a: SweepOutcome, b: SweepOutcome) -> Bool {
            a.fetch == b.fetch && a.unseen == b.unseen
                && a.stillRunning.map(\.0) == b.stillRunning.map(\.0) && a.stillRunning.map(\.1) == b.stillRunning.map(\.1)
        }
    }

    /// Sorts the due tasks (and the other followed tasks, which a sweep checks for free) by what the
    /// sweep saw.
    public static func classify(due: [String], waiting: [String], seen: [String: TaskStatus]) -> SweepOutcome {
        var outcome = SweepOutcome()
        for id in due {
            guard let status = seen[id] else { outcome.unseen.append(id); continue }
            if status.isFinal { outcome.fetch.append(id) } else { outcome.stillRunning.append((id, status)) }
        }
        for id in waiting where seen[id]?.isFinal == true {
            outcome.fetch.append(id)
        }
        return outcome
    }
}
