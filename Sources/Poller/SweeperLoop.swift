import Common
import Foundation
import Logging

/// Performs the account sweeper's actions (`AccountSweeper` decides them) on one owned thread of
/// each Poller instance: holds or waits for the lease in MySQL, lists RUNNING and PENDING pages,
/// fetches single tasks, stores what it learns in one statement per step, and records each
/// successful sweep where the other instances and FcgiApp look for it.
///
/// - Important: every method runs on the sweeper's own thread; its MySQL session and list client
///   belong to it. Single GETs run on the shared query threads.
final class SweeperLoop {
    private let config: PollerConfiguration
    private let queries: BlockingExecutor<DashScopeClient>
    private let listClient: DashScopeClient
    private let database: MySQLSession
    private let statistics: PollerStatistics
    private let logger: Logger
    private let quotaKey: String
    /// This instance, as the lease row names it.
    private let holder: String
    private var machine: AccountSweeper
    private var holding = false
    private var lastLeaseAt: Int64 = .min / 2
    /// The account's query rate the shared bucket last reported (sizes the sweep's budget).
    private var queryRate: Double
    private var pendingPassStartedAt: Int64?
    /// What this step learned, stored in one statement when the step ends (a RUNNING sweep's
    /// sightings wait for the GETs of the tasks that left RUNNING, which go first).
    private var unstored: [AccountSweeper.Observation] = []
    private let epoch = ContinuousClock.now

    init(config: PollerConfiguration, queries: BlockingExecutor<DashScopeClient>, database: MySQLSession,
         statistics: PollerStatistics, logger: Logger) {
        self.config = config
        self.queries = queries
        self.listClient = DashScopeClient(configuration: config.dashScope)
        self.database = database
        self.statistics = statistics
        var logger = logger
        logger[metadataKey: "component"] = "sweeper"
        self.logger = logger
        self.quotaKey = QuotaRepository.quotaKey(apiKey: config.dashScope.apiKey)
        self.holder = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UInt32.random(in: 0...UInt32.max))"
        self.machine = AccountSweeper(settings: config.sweeper)
        self.queryRate = SharedQuota(accountQPS: config.accountQueryQPS).rate
    }

    private var now: Int64 { (ContinuousClock.now - epoch).milliseconds }
    private var nowEpochMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Runs until `stop`; gives the lease up on the way out so another instance takes over at once.
    func run(stop: StopSignal) {
        logger.info("sweeper started", metadata: ["holder": "\(holder)", "lease": "\(config.sweeperLease)"])
        while !stop.isStopped {
            maintainLease()
            guard holding else {
                stop.sleep(for: config.sweeperAcquireInterval)
                continue
            }
            switch machine.next(now: now, nowEpochMs: nowEpochMs, queryRate: queryRate) {
            case .wait(let until):
                let renewAt = lastLeaseAt + config.sweeperLease.milliseconds / 3
                stop.sleep(for: .milliseconds(max(min(until, renewAt) - now, 1)))
            case .fetch(let ids):
                fetch(ids)
            case .listRunning(let page):
                listRunning(page: page)
            case .listPending(let page):
                listPending(page: page)
            }
        }
        if holding {
            try? database.with { try SweeperRepository.releaseLease($0, key: quotaKey, holder: holder) }
            logger.info("sweeper lease released")
        }
    }

    // MARK: - Lease

    /// Takes the lease when it is free, renews it when held (every third of its length).
    private func maintainLease(sweptInterval: Duration? = nil, pendingPassMs: Int64? = nil) {
        let due = holding ? lastLeaseAt + config.sweeperLease.milliseconds / 3 : lastLeaseAt + config.sweeperAcquireInterval.milliseconds
        guard sweptInterval != nil || pendingPassMs != nil || now >= due else { return }
        lastLeaseAt = now
        let held: Bool
        do {
            held = try database.with {
                try SweeperRepository.holdLease($0, key: quotaKey, holder: holder, lease: config.sweeperLease,
                                                sweptIntervalMs: sweptInterval?.milliseconds, pendingPassMs: pendingPassMs)
            }
        } catch {
            // Without MySQL nobody can store what a sweep learns; another instance may take over.
            if holding { logger.warning("cannot renew the sweeper lease; stepping down", metadata: [LogKey.error: "\(error)"]) }
            held = false
        }
        guard held != holding else { return }
        holding = held
        OutpaintingMetrics.sweeperHolding(held)
        statistics.sweeperHolding.store(held, ordering: .relaxed)
        if held {
            let running = (try? database.with { try TaskRepository.storedRunning($0) }) ?? []
            machine.leaseAcquired(runningRows: running, now: now)
            OutpaintingMetrics.sweeperAcquired()
            logger.info("sweeper lease taken: this instance sweeps the account", metadata: ["running.stored": "\(running.count)"])
        } else {
            machine.leaseLost()
            pendingPassStartedAt = nil
            logger.info("sweeper lease held elsewhere")
        }
    }

    // MARK: - Actions

    private func listRunning(page: Int) {
        guard takeToken() else { return }
        let result = list(status: .running, page: page)
        switch result {
        case .failure(let error):
            listFailed(error, running: true)
        case .success(let listed):
            let ours = lookUpOurs(listed.entries.map(\.taskId))
            var effects = machine.runningListed(page: page, totalPages: listed.totalPages, entries: listed.entries.map(Self.listed),
                                                ours: ours, now: now, nowEpochMs: nowEpochMs, queryRate: queryRate)
            // The tasks that left RUNNING are fetched at once, before anything is stored: their
            // results reach MySQL in the same statement as the sweep's sightings.
            unstored += effects.store
            effects.store = []
            while machine.hasQueuedFetches, case .fetch(let ids) = machine.next(now: now, nowEpochMs: nowEpochMs, queryRate: queryRate) {
                fetch(ids, flush: false)
            }
            perform(&effects)
        }
    }

    private func listPending(page: Int) {
        guard takeToken() else { return }
        if page == 1 { pendingPassStartedAt = now }
        switch list(status: .pending, page: page) {
        case .failure(let error):
            listFailed(error, running: false)
        case .success(let listed):
            let ours = lookUpOurs(listed.entries.map(\.taskId))
            var effects = machine.pendingListed(page: page, totalPages: listed.totalPages, entries: listed.entries.map(Self.listed),
                                                ours: ours, now: now, queryRate: queryRate)
            perform(&effects)
        }
    }

    private func fetch(_ wanted: [String], flush: Bool = true) {
        defer { if flush { flushStore() } }
        // Tasks someone else has just finished (a completion hint, a live check) need no GET.
        let open: [String: TaskStatus]
        do { open = try database.with { try TaskRepository.openAmong($0, wanted) } } catch {
            logger.warning("cannot read tasks before fetching them; retrying", metadata: [LogKey.error: "\(error)"])
            machine.fetchDeferred(wanted)
            machine.pause(for: .seconds(1), now: now)
            return
        }
        let ids = wanted.filter { open[$0] != nil }
        guard !ids.isEmpty else { return }
        let granted = takeTokens(ids.count)
        machine.fetchDeferred(Array(ids.dropFirst(granted)))
        let go = Array(ids.prefix(granted))
        guard !go.isEmpty else { return }
        OutpaintingMetrics.sweeperFetches(go.count)
        statistics.singleQueries.add(go.count, ordering: .relaxed)
        let results = queries.runAll(go.map { id in
            { @Sendable (client: inout DashScopeClient) -> Result<DashScopeTaskView, DashScopeError> in
                Result { () throws(DashScopeError) in try client.task(id) }
            }
        })
        if let throttled = results.lazy.compactMap(\.failureValue).first(where: { $0.kind == .throttled }) {
            reportThrottled(throttled)
        }
        for case .failure(let error) in results where error.kind != .throttled {
            logger.warning("sweeper: task query failed; retrying", metadata: [LogKey.error: "\(error)"])
        }
        var effects = machine.fetched(Array(zip(go, results).map { (taskId: $0, result: $1) }), now: now)
        unstored += effects.store
        effects.store = []
        perform(&effects)
    }

    // MARK: - Effects

    private func perform(_ effects: inout AccountSweeper.Effects) {
        unstored += effects.store
        flushStore()
        if let before = effects.findSuspectsCreatedBefore {
            if let ids = try? database.with({ try TaskRepository.pendingCreatedBefore($0, epochMs: before, limit: config.sweeper.lookupLimit) }) {
                machine.suspectsFound(ids, now: now)
            }
        }
        var passMs: Int64?
        if let unseen = effects.findUnseen {
            if let ids = try? database.with({
                try TaskRepository.pendingCreatedBefore($0, epochMs: unseen.createdBefore, notSeenSinceEpochMs: unseen.seenSince,
                                                        limit: config.sweeper.lookupLimit)
            }) {
                machine.unseenFound(ids)
            }
            passMs = pendingPassStartedAt.map { now - $0 }
            pendingPassStartedAt = nil
        }
        if let interval = effects.sweptWithInterval {
            statistics.sweeps.add(1, ordering: .relaxed)
            OutpaintingMetrics.sweepInterval(interval)
        }
        if effects.sweptWithInterval != nil || passMs != nil {
            maintainLease(sweptInterval: effects.sweptWithInterval, pendingPassMs: passMs)
        }
    }

    /// One observation per task: a single GET's answer over a list sighting, else the latest.
    private func flushStore() {
        guard !unstored.isEmpty else { return }
        var byTask: [String: AccountSweeper.Observation] = [:]
        for observation in unstored {
            if let kept = byTask[observation.view.taskId], !kept.fromList, observation.fromList { continue }
            byTask[observation.view.taskId] = observation
        }
        unstored = []
        store(Array(byTask.values))
    }

    /// What the sweep learned, in one transaction; finished tasks are counted here.
    private func store(_ observations: [AccountSweeper.Observation]) {
        let final: Set<String>
        do {
            final = try database.transaction { connection in
                try TaskRepository.applyObservations(connection, observations
                    .sorted { $0.view.taskId < $1.view.taskId }
                    .map { TaskRepository.Observation(view: $0.view, countsAsCheck: !$0.fromList) }, unknownConfirm: config.unknownConfirm)
            }
        } catch {
            // A later sweep or fetch sees the same tasks again; nothing is lost but time.
            logger.error("sweeper cannot store what it learned", metadata: ["tasks": "\(observations.count)", LogKey.error: "\(error)"])
            return
        }
        for observation in observations where observation.view.status == .unknown && !observation.fromList {
            OutpaintingMetrics.unknownAnswer()
            logger.warning(final.contains(observation.view.taskId) ? "DashScope kept answering UNKNOWN: the task is UNKNOWN now"
                           : "DashScope answered UNKNOWN; not final until it says so for a while, asking again",
                           metadata: [LogKey.taskID: "\(observation.view.taskId)"])
        }
        for observation in observations where observation.view.status.isFinal && !observation.fromList && final.contains(observation.view.taskId) {
            statistics.finished.add(1, ordering: .relaxed)
            OutpaintingMetrics.taskFinished(observation.view.status.rawValue)
            if let end = observation.view.endTime.flatMap(DashScopeTime.parseTaskTime) {
                OutpaintingMetrics.detectionDelay(.milliseconds(Int64((Date().timeIntervalSince1970 - end) * 1000)))
            }
            logger.info("task finished", metadata: [LogKey.taskID: "\(observation.view.taskId)", "status": "\(observation.view.status.rawValue)"])
        }
    }

    // MARK: - DashScope and the budget

    private struct Listed { let entries: [DashScopeListEntry]; let totalPages: Int }

    private static func listed(_ entry: DashScopeListEntry) -> AccountSweeper.Listed {
        AccountSweeper.Listed(taskId: entry.taskId, status: entry.status, submittedAtEpochMs: entry.submittedAtEpochMs)
    }

    /// One page over the last day (DashScope's longest window; no task stays PENDING or RUNNING longer).
    private func list(status: TaskStatus, page: Int) -> Result<Listed, DashScopeError> {
        let end = Date().addingTimeInterval(60)
        let start = end.addingTimeInterval(-Double(AccountSweeper.listWindow.milliseconds) / 1000 + 120)
        statistics.listQueries.add(1, ordering: .relaxed)
        return Result { () throws(DashScopeError) in
            let page = try listClient.list(startTime: DashScopeTime.filterTime(start.timeIntervalSince1970),
                                           endTime: DashScopeTime.filterTime(end.timeIntervalSince1970), status: status,
                                           pageNo: page, pageSize: AccountSweeper.pageSize)
            return Listed(entries: page.entries, totalPages: page.totalPages)
        }
    }

    private func listFailed(_ error: DashScopeError, running: Bool) {
        logger.warning("sweeper: list query failed; owners poll their tasks meanwhile",
                       metadata: ["status": "\(running ? "RUNNING" : "PENDING")", LogKey.error: "\(error)"])
        var pause: Duration?
        if error.kind == .throttled { pause = reportThrottled(error) }
        machine.listFailed(running: running, throttledPause: pause, now: now)
    }

    private func lookUpOurs(_ ids: [String]) -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return (try? database.with { Set(try TaskRepository.openAmong($0, ids).keys) }) ?? []
    }

    private func takeToken() -> Bool { takeTokens(1) == 1 }

    /// Up to `wanted` tokens from the account's shared bucket; when none, the sweeper waits for
    /// the bucket's retry time.
    private func takeTokens(_ wanted: Int) -> Int {
        do {
            let grant = try QuotaRepository.take(database, key: quotaKey, wanted: wanted, accountQPS: config.accountQueryQPS)
            if grant.rate > 0 { queryRate = grant.rate }
            if grant.granted == 0 {
                machine.pause(for: .milliseconds(max(grant.retryInMilliseconds, 10)), now: now)
                OutpaintingMetrics.quotaWait(.milliseconds(max(grant.retryInMilliseconds, 10)))
            }
            return grant.granted
        } catch {
            logger.warning("sweeper cannot read the shared query budget; waiting", metadata: [LogKey.error: "\(error)"])
            machine.pause(for: .seconds(1), now: now)
            return 0
        }
    }

    /// Every instance slows down: the shared bucket pauses and lowers its rate.
    @discardableResult
    private func reportThrottled(_ error: DashScopeError) -> Duration {
        statistics.throttled.add(1, ordering: .relaxed)
        let pause = Duration.milliseconds(max(CheckDecision.throttledPauseMilliseconds, error.retryAfterSeconds.map { Int64($0 * 1000) } ?? 0))
        try? QuotaRepository.throttled(database, key: quotaKey, pauseMilliseconds: pause.milliseconds, accountQPS: config.accountQueryQPS)
        logger.warning("DashScope throttled a sweeper query (429); every instance pauses", metadata: ["pause_ms": "\(pause.milliseconds)"])
        return pause
    }
}

private extension Result {
    var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
