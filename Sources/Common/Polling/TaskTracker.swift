import HeapModule

/// The tasks this Poller instance follows, with the time each is due for its next check.
///
/// Pure and single-threaded: time is passed in (monotonic milliseconds), so the logic is tested
/// without clocks, Kafka or MySQL. A task not yet due never blocks the ones behind it: they wait
/// in a min-heap, not on a partition or a thread.
public struct TaskTracker: Sendable {
    public struct Entry: Sendable, Equatable {
        public let taskId: String
        public let partition: Int32
        public internal(set) var dueAt: Int64
        /// Checks made in the current status, which drive the back-off (a task that starts
        /// RUNNING begins a fresh schedule).
        public internal(set) var checks: Int
        /// The status last seen (PENDING until seen otherwise).
        public internal(set) var status: TaskStatus
        /// After this instant the task is given up.
        public let deadlineAt: Int64
        /// When the task was created (epoch milliseconds), to place it in a list query's time window.
        public let createdAtEpochMs: Int64
        public internal(set) var inFlight: Bool
        /// Which heap item is current (older ones for the same task are skipped).
        var generation: UInt64 = 0
    }

    private struct Due: Comparable {
        let at: Int64
        let taskId: String
        let generation: UInt64
        static func < (a: Due, b: Due) -> Bool { a.at != b.at ? a.at < b.at : a.taskId < b.taskId }
    }

    private var entries: [String: Entry] = [:]
    private var heap = Heap<Due>()
    private var nextGeneration: UInt64 = 0

    public init() {}

    public var count: Int { entries.count }
    public func entry(_ taskId: String) -> Entry? { entries[taskId] }
    public func isFollowing(_ taskId: String) -> Bool { entries[taskId] != nil }

    /// Starts following a task (or keeps following it if already known: a duplicate message does
    /// not reset its schedule).
    /// - Returns: false when it was already followed.
    @discardableResult
    public mutating func follow(taskId: String, partition: Int32, dueAt: Int64, checks: Int, deadlineAt: Int64,
                                createdAtEpochMs: Int64 = 0, status: TaskStatus = .pending) -> Bool {
        guard entries[taskId] == nil else { return false }
        entries[taskId] = Entry(taskId: taskId, partition: partition, dueAt: dueAt, checks: checks, status: status,
                                deadlineAt: deadlineAt, createdAtEpochMs: createdAtEpochMs, inFlight: false)
        push(taskId, at: dueAt)
        return true
    }

    /// Stops following every task of a partition this instance no longer owns.
    /// - Returns: how many were dropped.
    @discardableResult
    public mutating func drop(partition: Int32) -> Int {
        let gone = entries.values.filter { $0.partition == partition }.map(\.taskId)
        for id in gone { forget(id) }
        return gone.count
    }

    /// Removes and returns up to `limit` tasks due at `now`, earliest first, marking them in flight.
    public mutating func takeDue(now: Int64, limit: Int) -> [Entry] {
        var out: [Entry] = []
        while out.count < limit, let top = heap.min, top.at <= now {
            heap.removeMin()
            guard var entry = entries[top.taskId], entry.generation == top.generation, !entry.inFlight else { continue }
            entry.inFlight = true
            entries[top.taskId] = entry
            out.append(entry)
        }
        return out
    }

    /// Marks specific followed tasks in flight now, whatever their due time (a list query or a
    /// completion hint showed they finished). Tasks already in flight or unknown are skipped.
    public mutating func take(taskIds: [String]) -> [Entry] {
        var out: [Entry] = []
        for id in taskIds {
            guard var entry = entries[id], !entry.inFlight else { continue }
            entry.inFlight = true
            entry.generation = 0  // its heap item is now stale
            entries[id] = entry
            out.append(entry)
        }
        return out
    }

    /// Moves a waiting task's next check to `now` (a completion hint arrived).
    /// - Returns: false when the task is not followed or already in flight.
    @discardableResult
    public mutating func pullForward(_ taskId: String, now: Int64) -> Bool {
        guard var entry = entries[taskId], !entry.inFlight, entry.dueAt > now else { return false }
        entry.dueAt = now
        entries[taskId] = entry
        push(taskId, at: now)
        return true
    }

    /// The earliest creation time of any followed task (a list sweep's window starts there).
    public var oldestCreatedAtEpochMs: Int64? {
        entries.values.lazy.map(\.createdAtEpochMs).filter { $0 > 0 }.min()
    }

    /// Every followed task that is not in flight (for a list query's window and matching).
    public var waitingTaskIDs: [String] { entries.values.filter { !$0.inFlight }.map(\.taskId) }

    /// Plans the next check of an in-flight task (`status`: what was seen, if anything).
    public mutating func reschedule(taskId: String, dueAt: Int64, checks: Int, status: TaskStatus? = nil) {
        guard var entry = entries[taskId] else { return }
        entry.dueAt = dueAt
        entry.checks = checks
        if let status { entry.status = status }
        entry.inFlight = false
        entries[taskId] = entry
        push(taskId, at: dueAt)
    }

    /// Stops following a task (final, expired, or no longer ours).
    public mutating func forget(_ taskId: String) {
        entries[taskId] = nil
    }

    /// When the earliest waiting task is due (nil: nothing waits).
    public mutating func nextDueAt() -> Int64? {
        while let top = heap.min {
            if let e = entries[top.taskId], e.generation == top.generation, !e.inFlight { return top.at }
            heap.removeMin()
        }
        return nil
    }

    private mutating func push(_ taskId: String, at: Int64) {
        nextGeneration &+= 1
        entries[taskId]?.generation = nextGeneration
        heap.insert(Due(at: at, taskId: taskId, generation: nextGeneration))
    }
}
