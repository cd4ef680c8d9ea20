import Common
import Foundation
import Logging
import Synchronization

/// The Poller's loop, run on one owned thread: consume a batch → claim its tasks in MySQL →
/// dead-letter what cannot be followed → commit offsets → run a round over the due tasks → now and
/// then, adopt orphaned tasks.
///
/// Design (README, "Architecture"): MySQL holds each task's state and next-check time; Kafka is the
/// work and ownership channel — a task belongs to the consumer of the partition its message
/// arrived on (`pollerPartition`). A message is committed as soon as its claim is in MySQL, so a
/// task waiting for its next check holds no offset and never blocks a partition; the waiting
/// happens in an in-memory heap (`TaskTracker`) rebuilt from MySQL when a partition is assigned.
///
/// - Important: every method runs on the engine's own thread; the consumer, the MySQL session and
///   `listClient` belong to it.
final class PollerEngine {
    let config: PollerConfiguration
    private(set) var consumer: KafkaConsumer
    /// Makes a fresh, subscribed consumer (used when the group never assigns this member anything).
    let makeConsumer: () throws -> KafkaConsumer
    /// Since when this member has had no partition (monotonic ms); nil while it has some.
    var unassignedSince: Int64?
    let producer: KafkaProducer
    /// Owned threads, each with its own DashScope client, for a round's concurrent queries.
    let queries: BlockingExecutor<DashScopeClient>
    let database: MySQLSession
    let logger: Logger
    let quotaKey: String

    var tracker = TaskTracker()
    var owned = Set<Int32>()
    /// Consumed but not yet durable (kept across a database or broker outage; offsets not committed).
    var pending: [KafkaMessage] = []
    /// Fetching is paused while `pending` is full.
    var paused = false
    /// Tasks (in flight) waiting for a single query: a completion hint named them.
    var toFetch: [TaskTracker.Entry] = []
    /// The account sweep's freshness, as last read (monotonic ms).
    var cachedSweepHealth: (health: SweepHealth, at: Int64)?
    /// When the shared bucket said to come back (monotonic ms).
    var quotaRetryAt: Int64 = 0
    let epoch = ContinuousClock.now
    var lastReconcile: Int64 = 0
    var lastGaugeReport: Int64 = .min / 2
    /// Messages claimed since freed memory was last given back to the system.
    var claimedSinceTrim = 0
    let statistics: PollerStatistics

    init(config: PollerConfiguration, makeConsumer: @escaping () throws -> KafkaConsumer, producer: KafkaProducer,
         queries: BlockingExecutor<DashScopeClient>, database: MySQLSession, statistics: PollerStatistics,
         logger: Logger) throws {
        self.statistics = statistics
        self.config = config
        self.makeConsumer = makeConsumer
        self.consumer = try makeConsumer()
        self.producer = producer
        self.queries = queries
        self.database = database
        self.logger = logger
        self.quotaKey = QuotaRepository.quotaKey(apiKey: config.dashScope.apiKey)
    }

    /// Monotonic milliseconds since the engine started.
    var now: Int64 { (ContinuousClock.now - epoch).milliseconds }
    var nowEpochMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Runs until `stop` is set: the round in progress finishes and is stored, the last batch is
    /// claimed and committed, then the consumer leaves the group.
    func run(stop: borrowing Atomic<Bool>) {
        logger.info("poller engine started", metadata: ["kafka.topic": "\(config.topic)", "followed": "0"])
        while !stop.load(ordering: .acquiring) {
            iterate()
            statistics.lastIterationEpochMs.store(nowEpochMs, ordering: .relaxed)
        }
        if !pending.isEmpty { claimPending() }
        logger.info("poller engine stopping; leaving the consumer group", metadata: [
            "followed": "\(tracker.count)",
            "queries.single": "\(statistics.singleQueries.load(ordering: .relaxed))",
            "queries.list": "\(statistics.listQueries.load(ordering: .relaxed))",
            "throttled": "\(statistics.throttled.load(ordering: .relaxed))",
            "finished": "\(statistics.finished.load(ordering: .relaxed))",
            "dead_lettered": "\(statistics.deadLettered.load(ordering: .relaxed))",
            "requeued": "\(statistics.requeued.load(ordering: .relaxed))"])
        consumer.close()
    }

    func iterate() {
        let untilDue = toFetch.isEmpty ? (tracker.nextDueAt().map { max($0 - now, 0) } ?? Int64.max) : 0
        let untilQuota = max(quotaRetryAt - now, 0)
        let wait = min(config.batchWait.milliseconds, max(untilDue, untilQuota))
        // While a batch waits for MySQL or the broker, fetching pauses (memory stays bounded);
        // polling goes on, which serves rebalances and keeps the member in its group.
        let backlogged = pending.count >= config.batchMax
        if backlogged != paused {
            paused = backlogged
            consumer.setPaused(paused, Set(owned.map { KafkaTopicPartition(topic: config.topic, partition: $0) }))
        }
        let polled = consumer.poll(maxMessages: config.batchMax, timeout: .milliseconds(wait))
        for error in polled.errors {
            logger.warning("Kafka consumer error", metadata: [LogKey.error: "\(error)"])
        }
        pending += polled.messages
        // A burst of messages is over: give its buffers (librdkafka's, the batches') back to the
        // system, or RSS stays at the burst's peak (W5: 100,000 tasks ≤ 100 MB).
        if polled.messages.isEmpty && claimedSinceTrim >= 1000 {
            claimedSinceTrim = 0
            SystemMemory.returnFreedMemory()
        }
        syncAssignment()
        reportGauges()
        if !pending.isEmpty { claimPending() }
        runRound()
        if now - lastReconcile >= config.reconcileInterval.milliseconds {
            lastReconcile = now
            settleSubmissions()
            reconcile()
        }
    }

    /// Tasks in flight and consumer lag, at most once a second.
    private func reportGauges() {
        guard now - lastGaugeReport >= 1000 else { return }
        lastGaugeReport = now
        OutpaintingMetrics.tasksInFlight(tracker.count + toFetch.count)
        statistics.followed.store(tracker.count + toFetch.count, ordering: .relaxed)
        statistics.partitions.store(owned.count, ordering: .relaxed)
        let partitions = Set(owned.map { KafkaTopicPartition(topic: config.topic, partition: $0) })
        for (partition, lag) in consumer.localLag(partitions) {
            OutpaintingMetrics.consumerLag(partition: partition, messages: lag + Int64(pending.filter { $0.topicPartition.partition == partition }.count))
        }
    }

    func deadline(ageSeconds: Int64) -> Int64 {
        now + config.taskDeadline.milliseconds - ageSeconds * 1000
    }

    // MARK: - Ownership

    /// Follows the open tasks of newly assigned partitions; forgets those of revoked ones.
    func syncAssignment() {
        let current: Set<Int32>
        do {
            current = Set(try consumer.assignment().filter { $0.topic == config.topic }.map(\.partition))
        } catch {
            logger.warning("cannot read the consumer assignment", metadata: [LogKey.error: "\(error)"])
            return
        }
        if current.isEmpty {
            let since = unassignedSince ?? now
            unassignedSince = since
            if config.rejoinWithoutAssignment > .zero && now - since >= config.rejoinWithoutAssignment.milliseconds {
                rejoin()
                return
            }
        } else {
            unassignedSince = nil
        }
        for partition in owned.subtracting(current) {
            let dropped = tracker.drop(partition: partition)
            owned.remove(partition)
            logger.info("partition revoked", metadata: [LogKey.partition: "\(partition)", "tasks": "\(dropped)"])
        }
        for partition in current.subtracting(owned) {
            do {
                let count = try loadOpenTasks(partition: partition)
                owned.insert(partition)
                logger.info("partition assigned", metadata: [LogKey.partition: "\(partition)", "tasks": "\(count)"])
            } catch {
                logger.error("cannot load a partition's open tasks; will retry", metadata: [
                    LogKey.partition: "\(partition)", LogKey.error: "\(error)"])
            }
        }
    }

    /// Leaves the group and joins again with a fresh consumer. Uncommitted messages are dropped:
    /// the group redelivers them.
    private func rejoin() {
        logger.warning("no partition assigned for too long; re-creating the consumer",
                       metadata: ["after": "\(config.rejoinWithoutAssignment)"])
        consumer.close()
        pending = []
        paused = false
        unassignedSince = nil
        do {
            consumer = try makeConsumer()
        } catch {
            logger.error("cannot re-create the consumer; will retry", metadata: [LogKey.error: "\(error)"])
            unassignedSince = now
        }
    }

    /// Follows a partition's open tasks, read in pages; their first checks are spread over the
    /// first-check delay so a large inherited backlog does not arrive as one burst.
    private func loadOpenTasks(partition: Int32) throws -> Int {
        var after = ""
        var loaded: [TaskRepository.OpenTask] = []
        while true {
            let page = try database.with { try TaskRepository.openTasks($0, partition: partition, after: after) }
            loaded += page
            guard page.count == 5000, let last = page.last else { break }
            after = last.taskId
        }
        let start = now
        for (i, task) in loaded.enumerated() {
            let spread = loaded.count > 1 ? config.backoff.firstCheck.milliseconds * Int64(i) / Int64(loaded.count) : 0
            tracker.follow(taskId: task.taskId, partition: partition, dueAt: start + spread, checks: 0,
                           deadlineAt: deadline(ageSeconds: task.ageSeconds), createdAtEpochMs: task.createdAtEpochMilliseconds,
                           status: task.status)
        }
        // Give the pages' transient buffers back to the system: RSS is a budget (100,000 tasks ≤ 100 MB).
        SystemMemory.returnFreedMemory()
        return loaded.count
    }

    // MARK: - Batches in

    /// Claims the pending messages' tasks in one transaction, dead-letters poison, applies hints,
    /// and only then commits the offsets. On any failure nothing is committed and the same
    /// messages are tried again on the next iteration (claims are idempotent).
    func claimPending() {
        let batch = BatchAssembler.assemble(pending)
        OutpaintingMetrics.batch(size: pending.count)
        let firstCheck = Int(config.backoff.firstCheck.milliseconds)
        let claimed: [(BatchAssembler.Task, TaskRecord?)]
        let claimStarted = ContinuousClock.now
        defer {
            logger.debug("batch claimed", metadata: ["messages": "\(batch.tasks.count)",
                                                     "claim_ms": "\((ContinuousClock.now - claimStarted).milliseconds)"])
        }
        do {
            claimed = try database.transaction { connection in
                // One lock order for every transaction (by taskId), so concurrent ones cannot deadlock.
                let tasks = batch.tasks.sorted { $0.message.taskId < $1.message.taskId }
                let records = try TaskRepository.claim(connection, tasks: tasks.map { ($0.message.taskId, $0.partition) },
                                                       firstCheckInMilliseconds: firstCheck)
                return tasks.map { ($0, records[$0.message.taskId]) }
            }
        } catch {
            logger.error("cannot claim a batch in MySQL; offsets not committed, will retry",
                         metadata: ["messages": "\(pending.count)", LogKey.error: "\(error)"])
            return
        }
        var poison = batch.poison.map { ($0.message, $0.reason) }
        for (task, record) in claimed where record == nil {
            poison.append((task.source, "unknown task: \(task.message.taskId) is not in out_painting_task"))
        }
        guard deadLetter(poison) else { return }

        let start = now
        let startEpochMs = nowEpochMs
        for (task, record) in claimed {
            guard let record, !record.status.isFinal, owned.contains(task.partition) else { continue }
            // The first check is due `firstCheck` after the task was created: a message that waited
            // in a backlog has already served (part of) that delay.
            let waited = max(startEpochMs - record.createdAtEpochMilliseconds, 0)
            tracker.follow(taskId: record.taskId, partition: task.partition, dueAt: start + max(Int64(firstCheck) - waited, 0),
                           checks: 0, deadlineAt: deadline(ageSeconds: record.ageSeconds),
                           createdAtEpochMs: record.createdAtEpochMilliseconds, status: record.status)
        }
        // A hinted task is fetched at once (the fetch queue goes before any sweep), not merely made due.
        let hinted = tracker.take(taskIds: batch.hints)
        toFetch += hinted
        for entry in hinted {
            logger.debug("completion hint: fetching now", metadata: [LogKey.taskID: "\(entry.taskId)"])
        }
        claimedSinceTrim += pending.count
        pending = []
        do {
            let started = ContinuousClock.now
            try consumer.commit(batch.nextOffsets)
            OutpaintingMetrics.commitLatency(ContinuousClock.now - started)
        } catch {
            // The claims are durable; a redelivered message only claims its task again.
            logger.warning("offset commit failed; messages may be redelivered", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Sends poison messages to the dead-letter topic (reason in headers) and waits for the acks.
    /// - Returns: false when one could not be delivered (then nothing is committed).
    private func deadLetter(_ poison: [(KafkaMessage, String)]) -> Bool {
        for (message, reason) in poison {
            let key = message.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
            do {
                _ = try producer.send(topic: config.deadLetterTopic, key: key, value: message.value, headers: [
                    ("dlt.reason", reason),
                    ("dlt.original.topic", message.topicPartition.topic),
                    ("dlt.original.partition", String(message.topicPartition.partition)),
                    ("dlt.original.offset", String(message.offset)),
                ], timeout: config.ackTimeout)
                statistics.deadLettered.add(1, ordering: .relaxed)
                OutpaintingMetrics.deadLettered(reason: reason.hasPrefix("unknown task") ? "unknown_task" : "malformed")
                logger.error("message dead-lettered", metadata: [
                    LogKey.partition: "\(message.topicPartition.partition)", LogKey.offset: "\(message.offset)",
                    "reason": "\(reason)", "dlt.topic": "\(config.deadLetterTopic)"])
            } catch {
                logger.error("cannot dead-letter a message; offsets not committed, will retry",
                             metadata: [LogKey.offset: "\(message.offset)", LogKey.error: "\(error)"])
                return false
            }
        }
        return true
    }
}

/// What the engine reports to `/healthz` and its shutdown log line (metrics go to OutpaintingMetrics).
final class PollerStatistics: Sendable {
    let lastIterationEpochMs = Atomic<Int64>(0)
    let followed = Atomic<Int>(0)
    let partitions = Atomic<Int>(0)
    let singleQueries = Atomic<Int>(0)
    let listQueries = Atomic<Int>(0)
    let throttled = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
    let deadLettered = Atomic<Int>(0)
    let requeued = Atomic<Int>(0)
    /// Whether this instance holds the account's sweeper lease, and its successful RUNNING sweeps.
    let sweeperHolding = Atomic<Bool>(false)
    let sweeps = Atomic<Int>(0)
}
