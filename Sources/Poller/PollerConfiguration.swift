import Common

/// The Poller's settings, read from the environment in `@main` only.
struct PollerConfiguration: Sendable {
    var topic = "outpainting-task"
    var consumer: [String: String] = [:]
    var producer: [String: String] = [:]
    var ackTimeout: Duration = .seconds(5)
    /// Most messages taken from Kafka at once, and the longest wait for them.
    var batchMax = 500
    /// A batch poll waits this long unless the batch fills: it is on the path of every completion
    /// hint (measured: 200 ms was most of the event → final-row latency), and idle loops are cheap.
    var batchWait: Duration = .milliseconds(50)
    /// Concurrent DashScope queries in a round, and most tasks checked in one round.
    var queryConcurrency = 8
    var roundMax = 100
    /// The account's task-query quota (DashScope: 20/s for all keys and programs of the account),
    /// shared through MySQL with every Poller instance and FcgiApp's live checks.
    var accountQueryQPS = 20.0
    /// Whether this instance may be the account's sweeper (list queries). Off: it only ever polls
    /// its own tasks, and only while no other instance sweeps.
    var listQueries = true
    /// The sweeper's pacing and rules (`AccountSweeper.Settings`).
    var sweeper = AccountSweeper.Settings()
    /// With DashScope's completion events delivered (EventBridge → the hint endpoint), a hinted
    /// task is fetched at once and the sweep is only a safety net: it runs at most this often.
    /// Zero = no events (the sweep's budget decides).
    var safetySweepInterval: Duration = .zero
    /// The sweeper lease's length (a dead holder is replaced this long after its last renewal), and
    /// how often the other instances try to take it.
    var sweeperLease: Duration = .seconds(3)
    var sweeperAcquireInterval: Duration = .seconds(1)
    /// Owners (and FcgiApp) trust the sweep while its last success is younger than this (and than
    /// four sweep intervals); after that they poll their tasks themselves.
    var sweepStaleAfter: Duration = .seconds(5)
    /// While trusting the sweep, a task nobody has seen for this long (or twice the last PENDING
    /// pass) gets a single query from its owner anyway.
    var unseenRecheck: Duration = .seconds(120)
    /// A create's answer would have arrived by this long after the intent was stored (the
    /// responder's queue budget and create timeout): an intent older than that is settled.
    var submissionAnswerWait: Duration = .seconds(20)
    /// An intent never sent after this long (its process stopped while it waited for its turn) is dropped.
    var submissionUnsentWait: Duration = .seconds(60)
    /// A task DashScope accepted is in its list by this long after it was sent: no task there by
    /// then means none was created.
    var submissionSettleAfter: Duration = .seconds(120)
    /// The account's submission quota (`DASHSCOPE_CREATE_QPS`): it sets how close two of our
    /// submissions can be, hence the matching tolerance.
    var accountCreateQPS = 2.0
    /// DashScope must answer UNKNOWN this long before a task is UNKNOWN (`TaskRepository.UnknownRule`).
    var unknownConfirm = TaskRepository.UnknownRule.defaultConfirm
    /// Where undecodable messages and messages for unknown tasks go, with the reason in headers.
    var deadLetterTopic = "outpainting-task-dlt"
    var backoff = BackoffSchedule()
    /// A task still not final this long after creation is given up (DashScope fails tasks after 3 h).
    var taskDeadline: Duration = .seconds(3 * 3600 + 600)
    var reconcileInterval: Duration = .seconds(15)
    var orphanUnclaimedAfter: Duration = .seconds(10)
    var orphanStaleAfter: Duration = .seconds(120)
    /// Re-create the consumer after this long without any assigned partition (0 = never). Off by
    /// default: with more instances than partitions an idle member is normal. The local stack turns
    /// it on because its test broker sometimes never completes a group join after restarting.
    var rejoinWithoutAssignment: Duration = .zero
    /// Longest a graceful stop may take before the process exits anyway.
    var shutdownTimeout: Duration = .seconds(20)
    /// Where `/metrics` and `/healthz` are served; nil = off.
    var metricsAddress: (host: String, port: Int)? = ("127.0.0.1", 9400)
    var dashScope = DashScopeConfiguration()
    var mysql = MySQLConfiguration()

    static func fromEnvironment(_ env: EnvironmentReader) throws -> PollerConfiguration {
        var c = PollerConfiguration()
        let metricsText = env.string("POLLER_METRICS_ADDRESS", default: "127.0.0.1:9400")
        if metricsText.isEmpty {
            c.metricsAddress = nil
        } else {
            guard let colon = metricsText.lastIndex(of: ":"), let port = Int(metricsText[metricsText.index(after: colon)...]),
                  (1...65535).contains(port), colon != metricsText.startIndex else {
                throw EnvironmentReader.InvalidValue(name: "POLLER_METRICS_ADDRESS", value: metricsText, expected: "host:port, or empty for off")
            }
            c.metricsAddress = (String(metricsText[..<colon]), port)
        }
        try DeploymentProfile.check(env, for: .poller)
        let bootstrap = env.string("KAFKA_BOOTSTRAP_SERVERS", default: DeploymentProfile.devDefault(env, "127.0.0.1:19092"))
        c.topic = env.string("KAFKA_TOPIC", default: c.topic)
        c.consumer = [
            "bootstrap.servers": bootstrap,
            "group.id": env.string("KAFKA_GROUP_ID", default: "outpainting-poller"),
            "client.id": "outpainting-poller",
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
            // librdkafka prefetches up to 100,000 messages / 64 MiB per partition by default: with
            // a large backlog that alone was tens of MB of RSS. Batches are ≤ POLLER_BATCH_MAX.
            "queued.min.messages": "10000",
            "queued.max.messages.kbytes": "8192",
        ].merging(env.passthrough(prefix: "KAFKA_CONSUMER_")) { _, fromOperator in fromOperator }
        c.ackTimeout = try env.milliseconds("KAFKA_ACK_TIMEOUT_MS", default: 5000)
        c.producer = [
            "bootstrap.servers": bootstrap, "client.id": "outpainting-poller-reconciler", "acks": "all",
            "partitioner": "murmur2_random",
            // Topics are created by operators (or the stack); a producer creating one by accident
            // races the real creation, which leaves consumers rejoining forever on flapping metadata.
            "allow.auto.create.topics": "false",
            "message.timeout.ms": String(c.ackTimeout.milliseconds),
        ].merging(env.passthrough(prefix: "KAFKA_PRODUCER_")) { _, fromOperator in fromOperator }
        c.batchMax = try env.int("POLLER_BATCH_MAX", default: c.batchMax, range: 1...100_000)
        c.batchWait = try env.milliseconds("POLLER_BATCH_WAIT_MS", default: 50)
        c.queryConcurrency = try env.int("POLLER_QUERY_CONCURRENCY", default: c.queryConcurrency, range: 1...256)
        c.roundMax = try env.int("POLLER_ROUND_MAX", default: c.roundMax, range: 1...100_000)
        c.accountQueryQPS = try env.double("DASHSCOPE_QUERY_QPS", default: c.accountQueryQPS)
        guard c.accountQueryQPS >= 1 else {
            throw EnvironmentReader.InvalidValue(name: "DASHSCOPE_QUERY_QPS", value: "\(c.accountQueryQPS)", expected: "a number >= 1")
        }
        c.listQueries = try env.bool("POLLER_LIST_QUERIES", default: c.listQueries)
        c.safetySweepInterval = .seconds(try env.int("POLLER_SAFETY_SWEEP_S", default: 0, range: 0...3600))
        let d = AccountSweeper.Settings()
        var floor = try env.milliseconds("POLLER_SWEEP_FLOOR_MS", default: d.intervalFloor)
        var ceiling = try env.milliseconds("POLLER_SWEEP_MAX_INTERVAL_MS", default: d.intervalCeiling)
        if c.safetySweepInterval > .zero {
            floor = max(floor, c.safetySweepInterval)
            ceiling = max(ceiling, c.safetySweepInterval)
        }
        c.sweeper = AccountSweeper.Settings(
            budgetShare: try env.double("POLLER_SWEEP_BUDGET_SHARE", default: d.budgetShare, range: 0.001...1),
            intervalFloor: floor, intervalCeiling: ceiling,
            pendingBudgetShare: try env.double("POLLER_PENDING_BUDGET_SHARE", default: d.pendingBudgetShare, range: 0.001...1),
            pendingPassInterval: try env.milliseconds("POLLER_PENDING_PASS_MS", default: d.pendingPassInterval),
            runningRecheck: try env.milliseconds("POLLER_RUNNING_RECHECK_MS", default: d.runningRecheck),
            suspectRecheck: try env.milliseconds("POLLER_SUSPECT_RECHECK_MS", default: d.suspectRecheck),
            clockSlack: try env.milliseconds("POLLER_CLOCK_SLACK_MS", default: d.clockSlack),
            listRetry: try env.milliseconds("POLLER_LIST_RETRY_MS", default: d.listRetry),
            listRetryCap: try env.milliseconds("POLLER_LIST_RETRY_CAP_MS", default: d.listRetryCap),
            unknownRecheck: try env.milliseconds("POLLER_UNKNOWN_RECHECK_MS", default: d.unknownRecheck),
            unknownRecheckCap: try env.milliseconds("POLLER_UNKNOWN_RECHECK_CAP_MS", default: d.unknownRecheckCap),
            fetchBatch: c.queryConcurrency)
        c.sweeperLease = try env.milliseconds("POLLER_SWEEPER_LEASE_MS", default: c.sweeperLease)
        c.sweeperAcquireInterval = try env.milliseconds("POLLER_SWEEPER_ACQUIRE_MS", default: c.sweeperAcquireInterval)
        c.sweepStaleAfter = try env.milliseconds("POLLER_SWEEP_STALE_MS", default: c.sweepStaleAfter)
        c.unseenRecheck = try env.milliseconds("POLLER_UNSEEN_RECHECK_MS", default: c.unseenRecheck)
        c.submissionAnswerWait = .seconds(try env.int("POLLER_SUBMISSION_ANSWER_WAIT_S", default: 20, range: 1...86_400))
        c.submissionUnsentWait = .seconds(try env.int("POLLER_SUBMISSION_UNSENT_WAIT_S", default: 60, range: 1...86_400))
        c.submissionSettleAfter = .seconds(try env.int("POLLER_SUBMISSION_SETTLE_S", default: 120, range: 1...86_400))
        c.accountCreateQPS = try env.double("DASHSCOPE_CREATE_QPS", default: c.accountCreateQPS, range: 0...1_000_000)
        c.unknownConfirm = .seconds(try env.int("UNKNOWN_CONFIRM_S", default: Int(c.unknownConfirm.components.seconds), range: 0...86_400))
        c.deadLetterTopic = env.string("KAFKA_DLT_TOPIC", default: c.topic + "-dlt")
        c.backoff = BackoffSchedule(
            firstCheck: try env.milliseconds("POLLER_FIRST_CHECK_MS", default: 1000),
            initial: try env.milliseconds("POLLER_BACKOFF_INITIAL_MS", default: 1000),
            multiplier: max(1, try env.double("POLLER_BACKOFF_MULTIPLIER", default: 1.5)),
            cap: try env.milliseconds("POLLER_BACKOFF_CAP_MS", default: 10_000),
            pendingInitial: try env.milliseconds("POLLER_PENDING_BACKOFF_INITIAL_MS", default: 5000),
            pendingCap: try env.milliseconds("POLLER_PENDING_BACKOFF_CAP_MS", default: 30_000),
            jitter: min(max(try env.double("POLLER_BACKOFF_JITTER", default: 0.2), 0), 0.9))
        c.taskDeadline = .seconds(try env.int("POLLER_TASK_DEADLINE_S", default: 3 * 3600 + 600, range: 60...7 * 86_400))
        c.reconcileInterval = .seconds(try env.int("POLLER_RECONCILE_INTERVAL_S", default: 15, range: 1...86_400))
        c.orphanUnclaimedAfter = .seconds(try env.int("POLLER_ORPHAN_UNCLAIMED_S", default: 10, range: 1...86_400))
        c.orphanStaleAfter = .seconds(try env.int("POLLER_ORPHAN_STALE_S", default: 120, range: 10...86_400))
        c.rejoinWithoutAssignment = .seconds(try env.int("POLLER_REJOIN_WITHOUT_ASSIGNMENT_S", default: 0, range: 0...86_400))
        c.shutdownTimeout = .seconds(try env.int("POLLER_SHUTDOWN_TIMEOUT_S", default: 20, range: 1...3600))
        c.dashScope = try DashScopeConfiguration.fromEnvironment(env)
        c.mysql = try MySQLConfiguration.fromEnvironment(env)
        return c
    }
}
