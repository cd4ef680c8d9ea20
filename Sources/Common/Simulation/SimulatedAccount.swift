import DequeModule
import Foundation
import HeapModule

/// The DevServer's model of one Aliyun account's `image-out-painting` tasks: a state machine
/// driven by explicit time (seconds since 1970), so it is unit-tested without a server.
///
/// Behaviour follows DASHSCOPE.md: PENDING → RUNNING → SUCCEEDED/FAILED after a duration; at most
/// `maxRunning` tasks run at once (the rest wait PENDING, FIFO; 0 = unlimited); only PENDING tasks
/// can be cancelled; unknown ids and tasks finished more than 24 h ago answer UNKNOWN.
public struct SimulatedAccount: Sendable {
    public struct Task: Sendable, Equatable {
        public let taskId: String
        public let submitAt: Double
        public let durationMs: Int
        public let outcome: TaskStatus
        public internal(set) var startAt: Double?
        public internal(set) var endAt: Double?
        public internal(set) var canceledAt: Double?
    }

    /// Time a task spends queued before it starts when a slot is free.
    public static let queueDelay = 0.02
    /// Finished tasks are kept (queryable) this long.
    public static let retention: Double = 24 * 3600

    public var maxRunning: Int
    private(set) var tasks: [String: Task] = [:]
    private var pending: Deque<String> = []
    private var running: Set<String> = []
    /// Running tasks by end time: the next to finish in O(log n) (an account may hold 100,000).
    private var runningEnds = Heap<RunningEnd>()
    /// The time of the latest finish replayed: a task waiting for a slot starts then.
    private var clock: Double = 0
    /// Tasks that reached SUCCEEDED/FAILED/UNKNOWN, in order, until `drainFinished` takes them.
    private var finishedQueue: [String] = []

    public init(maxRunning: Int = 0) {
        self.maxRunning = maxRunning
    }

    public mutating func submit(taskId: String, at now: Double, durationMs: Int, outcome: TaskStatus) {
        advance(to: now)
        tasks[taskId] = Task(taskId: taskId, submitAt: now, durationMs: max(durationMs, 0), outcome: outcome)
        pending.append(taskId)
        advance(to: now)
    }

    /// The task's state at `now`, or nil when unknown or expired.
    public mutating func task(_ taskId: String, at now: Double) -> (Task, TaskStatus)? {
        advance(to: now)
        guard let task = tasks[taskId] else { return nil }
        if let end = task.endAt ?? task.canceledAt, now - end > Self.retention {
            tasks[taskId] = nil
            return nil
        }
        return (task, Self.status(task, at: now))
    }

    /// The tasks the list query shows for `status` (nil: every status) at `now`, newest first
    /// (DashScope's order is undocumented). RUNNING and PENDING come from their own indexes, so a
    /// sweep of the few running tasks costs the same with 20,000 tasks queued.
    public mutating func listed(status: TaskStatus?, at now: Double) -> [(Task, TaskStatus)] {
        advance(to: now)
        let candidates: [Task]
        switch status {
        case .running?: candidates = running.compactMap { tasks[$0] }
        case .pending?: candidates = (pending.compactMap { tasks[$0] } + running.compactMap { tasks[$0] })
        default: candidates = Array(tasks.values)
        }
        return candidates.lazy.map { ($0, Self.status($0, at: now)) }
            .filter { status == nil || $0.1 == status }
            .sorted { $0.0.submitAt > $1.0.submitAt }
    }

    /// The tasks that finished since the last call, with their final status (for completion events).
    public mutating func drainFinished(at now: Double) -> [(Task, TaskStatus)] {
        advance(to: now)
        defer { finishedQueue.removeAll() }
        return finishedQueue.compactMap { id in tasks[id].map { ($0, Self.status($0, at: now)) } }
    }

    public enum CancelResult: Sendable, Equatable { case canceled, notPending, unknown }

    public mutating func cancel(_ taskId: String, at now: Double) -> CancelResult {
        advance(to: now)
        guard var task = tasks[taskId] else { return .unknown }
        guard Self.status(task, at: now) == .pending else { return .notPending }
        task.canceledAt = now
        tasks[taskId] = task
        pending.removeAll { $0 == taskId }
        running.remove(taskId)
        return .canceled
    }

    static func status(_ task: Task, at now: Double) -> TaskStatus {
        if task.canceledAt != nil { return .canceled }
        guard let start = task.startAt, now >= start else { return .pending }
        guard let end = task.endAt, now >= end else { return .running }
        return task.outcome
    }

    /// Replays starts and finishes up to `now`: a finishing task frees its slot at its end time,
    /// and the oldest pending task starts then.
    mutating func advance(to now: Double) {
        while true {
            while maxRunning == 0 || running.count < maxRunning, let next = pending.first,
                  let task = tasks[next], task.submitAt <= now {
                pending.removeFirst()
                var started = task
                let start = max(task.submitAt + Self.queueDelay, clock)
                started.startAt = start
                started.endAt = start + Double(task.durationMs) / 1000
                tasks[next] = started
                running.insert(next)
                runningEnds.insert(RunningEnd(end: started.endAt!, taskId: next))
            }
            guard let next = runningEnds.min, next.end <= now else { break }
            runningEnds.removeMin()
            running.remove(next.taskId)
            finishedQueue.append(next.taskId)
            clock = max(clock, next.end)
        }
    }

    private struct RunningEnd: Comparable, Sendable {
        let end: Double
        let taskId: String
        static func < (a: RunningEnd, b: RunningEnd) -> Bool { (a.end, a.taskId) < (b.end, b.taskId) }
    }
}
