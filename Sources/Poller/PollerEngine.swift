import Common
import Foundation
import Logging
import Synchronization

/// The Poller's loop, run on one owned thread: consume a batch → claim its tasks in MySQL → commit
/// offsets → check the due tasks concurrently → store the outcomes in one transaction → plan the
/// next checks → now and then, re-enqueue orphaned tasks.
///
/// Design (README, "Architecture"): MySQL holds each task's state and next-check time; Kafka is the
/// work and ownership channel — a task belongs to the consumer of the partition its message
/// arrived on (`pollerPartition`). A message is committed as soon as its claim is in MySQL, so a
/// task waiting for its next check holds no offset and never blocks a partition; the waiting
/// happens in an in-memory heap (`TaskTracker`) rebuilt from MySQL when a partition is assigned.
///
/// - Important: every method runs on the engine's own thread; the consumer and the MySQL session
///   belong to it.
final class PollerEngine {
    private let config: PollerConfiguration
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let queries: BlockingExecutor<DashScopeClient>
    private let database: MySQLSession
    private let logger: Logger

    private var tracker = TaskTracker()
    private var budget: QueryBudget
    private var owned = Set<Int32>()
    /// Consumed but not yet claimed in MySQL (kept across a database outage; offsets not committed).
    private var unclaimed: [KafkaMessage] = []
    private let epoch = ContinuousClock.now
    private var lastReconcile: Int64 = 0

    init(config: PollerConfiguration, consumer: KafkaConsumer, producer: KafkaProducer,
         queries: BlockingExecutor<DashScopeClient>, database: MySQLSession, logger: Logger) {
        self.config = config
        self.consumer = consumer
        self.producer = producer
        self.queries = queries
        self.database = database
        self.logger = logger
        self.budget = QueryBudget(ratePerSecond: config.queryRatePerSecond)
    }

    private var now: Int64 { (ContinuousClock.now - epoch).milliseconds }

    /// Runs until `stop` is set, then leaves the consumer group.
    func run(stop: borrowing Atomic<Bool>) {
        logger.info("poller engine started", metadata: ["kafka.topic": "\(config.topic)"])
        while !stop.load(ordering: .acquiring) {
            iterate()
        }
        logger.info("poller engine stopping; leaving the consumer group", metadata: ["followed": "\(tracker.count)"])
        consumer.close()
    }

    func iterate() {
        let untilDue = tracker.nextDueAt().map { max($0 - now, 0) } ?? Int64.max
        let untilBudget = budget.millisecondsUntilAvailable(now: now)
        let wait = min(config.batchWait.milliseconds, max(untilDue, untilBudget))
        let polled = consumer.poll(maxMessages: config.batchMax, timeout: .milliseconds(wait))
        for error in polled.errors {
            logger.warning("Kafka consumer error", metadata: [LogKey.error: "\(error)"])
        }
        unclaimed += polled.messages
        syncAssignment()
        if !unclaimed.isEmpty { claimBatch() }
        checkDueTasks()
        if now - lastReconcile >= config.reconcileInterval.milliseconds {
            lastReconcile = now
            reconcile()
        }
    }

    // MARK: - Ownership

    /// Follows the open tasks of newly assigned partitions; forgets those of revoked ones.
    private func syncAssignment() {
        let current: Set<Int32>
        do {
            current = Set(try consumer.assignment().filter { $0.topic == config.topic }.map(\.partition))
        } catch {
            logger.warning("cannot read the consumer assignment", metadata: [LogKey.error: "\(error)"])
            return
        }
        for partition in owned.subtracting(current) {
            let dropped = tracker.drop(partition: partition)
            owned.remove(partition)
            logger.info("partition revoked", metadata: [LogKey.partition: "\(partition)", "tasks": "\(dropped)"])
        }
        for partition in current.subtracting(owned) {
            do {
                let open = try database.with { try TaskRepository.openTasks($0, partition: partition) }
                let start = now
                for (i, record) in open.enumerated() {
                    // Spread the first checks of a large inherited backlog over the first-check delay.
                    let spread = open.count > 1 ? config.backoff.firstCheck.milliseconds * Int64(i) / Int64(open.count) : 0
                    tracker.follow(taskId: record.taskId, partition: partition, dueAt: start + spread,
                                   checks: record.retryCount, deadlineAt: deadline(ageSeconds: record.ageSeconds))
                }
                owned.insert(partition)
                logger.info("partition assigned", metadata: [LogKey.partition: "\(partition)", "tasks": "\(open.count)"])
            } catch {
                logger.error("cannot load a partition's open tasks; will retry", metadata: [
                    LogKey.partition: "\(partition)", LogKey.error: "\(error)"])
            }
        }
    }

    private func deadline(ageSeconds: Int64) -> Int64 {
        now + config.taskDeadline.milliseconds - ageSeconds * 1000
    }

    // MARK: - Batches in

    /// Claims the consumed messages' tasks in one transaction, then commits their offsets.
    private func claimBatch() {
        var latest: [String: KafkaMessage] = [:]
        var nextOffsets: [KafkaTopicPartition: Int64] = [:]
        var decoded: [(KafkaMessage, OutPaintingTaskMessage)] = []
        for message in unclaimed {
            nextOffsets[message.topicPartition] = max(nextOffsets[message.topicPartition] ?? 0, message.offset + 1)
            do {
                let task = try OutPaintingTaskMessage.decode(message.value)
                if latest.updateValue(message, forKey: task.taskId) == nil { decoded.append((message, task)) }
            } catch {
                logger.error("skipping a message that is not an OutPaintingTaskMessage", metadata: [
                    LogKey.partition: "\(message.topicPartition.partition)", LogKey.offset: "\(message.offset)",
                    LogKey.error: "\(error)"])
            }
        }
        let firstCheck = Int(config.backoff.firstCheck.milliseconds)
        let claimed: [(Int32, TaskRecord?, String)]
        do {
            claimed = try database.transaction { connection in
                try decoded.map { message, task in
                    let partition = message.topicPartition.partition
                    return (partition, try TaskRepository.claim(connection, taskId: task.taskId, partition: partition,
                                                                 firstCheckInMilliseconds: firstCheck), task.taskId)
                }
            }
        } catch {
            logger.error("cannot claim a batch in MySQL; offsets not committed, will retry",
                         metadata: ["messages": "\(unclaimed.count)", LogKey.error: "\(error)"])
            return
        }
        let start = now
        for (partition, record, taskId) in claimed {
            guard let record else {
                logger.warning("message for a task that is not in out_painting_task; skipped", metadata: [LogKey.taskID: "\(taskId)"])
                continue
            }
            guard !record.status.isFinal, owned.contains(partition) else { continue }
            tracker.follow(taskId: taskId, partition: partition, dueAt: start + Int64(firstCheck),
                           checks: record.retryCount, deadlineAt: deadline(ageSeconds: record.ageSeconds))
        }
        unclaimed = []
        do {
            try consumer.commit(nextOffsets)
            logger.debug("batch claimed and committed", metadata: ["tasks": "\(claimed.count)"])
        } catch {
            // The claims are durable; a redelivered message only claims its task again.
            logger.warning("offset commit failed; messages may be redelivered", metadata: [LogKey.error: "\(error)"])
        }
    }

    // MARK: - Rounds

    private func checkDueTasks() {
        let start = now
        let allowance = min(config.roundMax, budget.available(now: start))
        guard allowance > 0 else { return }
        let due = tracker.takeDue(now: start, limit: allowance)
        guard !due.isEmpty else { return }
        _ = budget.take(due.count, now: start)

        let results = queries.runAll(due.map { entry in
            { @Sendable (client: inout DashScopeClient) -> Result<DashScopeTaskView, DashScopeError> in
                Result { () throws(DashScopeError) in try client.task(entry.taskId) }
            }
        })
        let finished = now
        var decisions: [(TaskTracker.Entry, CheckDecision, DashScopeTaskView?)] = []
        var throttled = false
        for (entry, result) in zip(due, results) {
            let decision = CheckDecision.decide(checks: entry.checks, deadlineAt: entry.deadlineAt, now: finished,
                                                result: result, backoff: config.backoff, random: Double.random(in: 0..<1))
            if case .retryLater(_, true) = decision { throttled = true }
            if case .failure(let error) = result, error.kind != .throttled {
                logger.warning("status query failed", metadata: [LogKey.taskID: "\(entry.taskId)", LogKey.error: "\(error)"])
            }
            decisions.append((entry, decision, try? result.get()))
        }
        if throttled {
            budget.penalize(forMilliseconds: CheckDecision.throttledPauseMilliseconds, now: finished)
            logger.warning("DashScope throttled status queries (429); pausing queries")
        }
        persist(decisions)
    }

    /// Stores a round's outcomes in one transaction, then updates the schedule.
    private func persist(_ decisions: [(TaskTracker.Entry, CheckDecision, DashScopeTaskView?)]) {
        do {
            try database.transaction { connection in
                for (entry, decision, view) in decisions {
                    switch decision {
                    case .finished:
                        try TaskRepository.applyObservation(connection, view!, nextCheckInMilliseconds: nil)
                    case .stillRunning(_, let next):
                        try TaskRepository.applyObservation(connection, view!, nextCheckInMilliseconds: Int(next))
                    case .expire:
                        try TaskRepository.expire(connection, taskId: entry.taskId,
                                                  reason: "任务超时：超过 \(config.taskDeadline.milliseconds / 60_000) 分钟仍未完成")
                    case .retryLater:
                        break
                    }
                }
            }
        } catch {
            logger.error("cannot store a round's outcomes; the tasks will be checked again",
                         metadata: ["tasks": "\(decisions.count)", LogKey.error: "\(error)"])
            let retryAt = now + 1000
            for (entry, _, _) in decisions { tracker.reschedule(taskId: entry.taskId, dueAt: retryAt, checks: entry.checks) }
            return
        }
        let at = now
        for (entry, decision, _) in decisions {
            switch decision {
            case .finished(let status):
                tracker.forget(entry.taskId)
                logger.info("task finished", metadata: [LogKey.taskID: "\(entry.taskId)", "status": "\(status.rawValue)",
                                                        "checks": "\(entry.checks + 1)"])
            case .expire:
                tracker.forget(entry.taskId)
                logger.warning("task past its deadline; marked UNKNOWN", metadata: [LogKey.taskID: "\(entry.taskId)"])
            case .stillRunning(_, let next):
                tracker.reschedule(taskId: entry.taskId, dueAt: at + next, checks: entry.checks + 1)
            case .retryLater(let delay, _):
                tracker.reschedule(taskId: entry.taskId, dueAt: at + delay, checks: entry.checks)
            }
        }
    }

    // MARK: - Reconciler

    /// Re-enqueues tasks no consumer follows: their produce failed at create time, the broker lost
    /// their message, or their partition's owner stopped checking them.
    private func reconcile() {
        let orphans: [TaskRecord]
        do {
            orphans = try database.with {
                try TaskRepository.orphans($0, unclaimedAfterSeconds: Int(config.orphanUnclaimedAfter.components.seconds),
                                           staleAfterSeconds: Int(config.orphanStaleAfter.components.seconds), limit: 500)
            }
        } catch {
            logger.warning("reconciler cannot read MySQL", metadata: [LogKey.error: "\(error)"])
            return
        }
        for record in orphans where !tracker.isFollowing(record.taskId) {
            let message = OutPaintingTaskMessage(taskId: record.taskId, pictureId: record.pictureId, userId: record.userId,
                                                 createTime: Int64(Date().timeIntervalSince1970 * 1000) - record.ageSeconds * 1000,
                                                 retryCount: record.retryCount)
            do {
                _ = try producer.send(topic: config.topic, key: record.taskId, value: message.encoded, timeout: config.ackTimeout)
                logger.info("re-enqueued an orphaned task", metadata: [LogKey.taskID: "\(record.taskId)",
                                                                      "claimed": "\(record.pollerPartition != nil)"])
            } catch {
                logger.warning("cannot re-enqueue an orphaned task", metadata: [LogKey.taskID: "\(record.taskId)",
                                                                               LogKey.error: "\(error)"])
                return
            }
        }
    }
}
