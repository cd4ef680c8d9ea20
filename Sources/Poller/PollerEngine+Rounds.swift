import Common
import Foundation
import Logging

/// A round: learn the due tasks' statuses within the shared query budget, decide, store, reschedule.
extension PollerEngine {
    func runRound() {
        guard now >= quotaRetryAt else { return }
        // Tasks a sweep showed finished are fetched first: a new sweep must never starve them.
        if !toFetch.isEmpty { return fetchRound() }
        if config.safetySweepInterval > .zero { return safetyNetRound() }
        let due = tracker.takeDue(now: now, limit: config.roundMax)
        guard !due.isEmpty else { return }
        if config.listQueries && now - lastSweepAt >= Self.minimumSweepIntervalMs
            && RoundPlanner.useListSweep(dueCount: due.count, expectedPages: lastSweepPages) {
            sweepRound(due)
        } else {
            singlesRound(due)
        }
    }

    /// A sweep refreshes every followed task at once; more often than this it would only spend quota.
    static var minimumSweepIntervalMs: Int64 { 500 }

    // MARK: - Round kinds

    /// Events mode (POLLER_SAFETY_SWEEP_S): completion hints bring finished tasks to `toFetch`;
    /// everything else waits for the next sweep, which observes every due task in a page or two.
    private func safetyNetRound() {
        let nextSweepAt = lastSweepAt + config.safetySweepInterval.milliseconds
        guard now >= nextSweepAt else {
            // Defer what fell due to the sweep instead of querying it on its own.
            let due = tracker.takeDue(now: now, limit: Int.max)
            for entry in due { tracker.reschedule(taskId: entry.taskId, dueAt: nextSweepAt, checks: entry.checks) }
            return
        }
        let due = tracker.takeDue(now: now, limit: Int.max)
        guard !due.isEmpty else { return }
        sweepRound(due)
    }

    /// One single-task query per due task.
    private func singlesRound(_ due: [TaskTracker.Entry]) {
        let granted = takeTokens(due.count)
        putBack(Array(due.dropFirst(granted)))
        let go = Array(due.prefix(granted))
        guard !go.isEmpty else { return }
        let started = ContinuousClock.now
        let results = querySingles(go)
        let queried = ContinuousClock.now
        conclude(queried: Array(zip(go, results)), listed: [])
        logger.debug("round stored", metadata: ["tasks": "\(go.count)", "query_ms": "\((queried - started).milliseconds)",
                                                "store_ms": "\((ContinuousClock.now - queried).milliseconds)"])
    }

    /// Single queries for the tasks waiting in `toFetch` (in flight since a sweep saw them), as
    /// many as the bucket grants now; the rest wait for the next round.
    private func fetchRound() {
        let granted = takeTokens(min(toFetch.count, config.roundMax))
        guard granted > 0 else { return }
        let go = Array(toFetch.prefix(granted))
        toFetch.removeFirst(granted)
        conclude(queried: Array(zip(go, querySingles(go))), listed: [])
    }

    /// A list sweep over every followed task's time window: due tasks it shows running are
    /// rescheduled without a query of their own; those it shows finished (due or not: found early)
    /// and due ones it did not see are queued for single queries, which have priority over the
    /// next sweep.
    private func sweepRound(_ due: [TaskTracker.Entry]) {
        guard takeTokens(1) == 1 else { return putBack(due) }
        lastSweepAt = now
        let window = RoundPlanner.window(createdAt: due.map(\.createdAtEpochMs) + [tracker.oldestCreatedAtEpochMs ?? 0],
                                         nowEpochMs: nowEpochMs)
        let start = DashScopeTime.filterTime(Double(window.start) / 1000)
        let end = DashScopeTime.filterTime(Double(window.end) / 1000)
        statistics.listQueries.add(1, ordering: .relaxed)
        let first: DashScopeListPage
        do {
            first = try listClient.list(startTime: start, endTime: end, status: nil, pageNo: 1, pageSize: RoundPlanner.pageSize)
        } catch {
            logger.warning("list query failed; falling back to single queries", metadata: [LogKey.error: "\(error)"])
            if error.kind == .throttled { reportThrottled(error) }
            return putBack(due)
        }
        var seen: [String: TaskStatus] = [:]
        for entry in first.entries { seen[entry.taskId] = entry.status }
        let morePages = max(first.totalPages - 1, 0)
        if morePages > 0 {
            let granted = takeTokens(morePages)
            let pages: [@Sendable (inout DashScopeClient) -> Result<DashScopeListPage, DashScopeError>] = (0..<granted).map { i in
                { client in Result { () throws(DashScopeError) in
                    try client.list(startTime: start, endTime: end, status: nil, pageNo: i + 2, pageSize: RoundPlanner.pageSize)
                } }
            }
            for result in queries.runAll(pages) {
                statistics.listQueries.add(1, ordering: .relaxed)
                switch result {
                case .success(let page): for entry in page.entries { seen[entry.taskId] = entry.status }
                case .failure(let error): if error.kind == .throttled { reportThrottled(error) }
                }
            }
        }
        lastSweepPages = max(first.totalPages, 1)

        let dueIDs = Set(due.map(\.taskId))
        let outcome = RoundPlanner.classify(due: due.map(\.taskId), waiting: tracker.waitingTaskIDs, seen: seen)
        let byID = Dictionary(uniqueKeysWithValues: due.map { ($0.taskId, $0) })
        toFetch += (outcome.fetch + outcome.unseen).compactMap { byID[$0] }
        toFetch += tracker.take(taskIds: outcome.fetch.filter { !dueIDs.contains($0) })
        let listed = outcome.stillRunning.compactMap { id, status in byID[id].map { ($0, status) } }
        conclude(queried: [], listed: listed)
        if !toFetch.isEmpty { fetchRound() }
    }

    // MARK: - Queries and budget

    private func querySingles(_ entries: [TaskTracker.Entry]) -> [Result<DashScopeTaskView, DashScopeError>] {
        guard !entries.isEmpty else { return [] }
        statistics.singleQueries.add(entries.count, ordering: .relaxed)
        return queries.runAll(entries.map { entry in
            { @Sendable (client: inout DashScopeClient) -> Result<DashScopeTaskView, DashScopeError> in
                Result { () throws(DashScopeError) in try client.task(entry.taskId) }
            }
        })
    }

    /// Takes up to `wanted` tokens from the account's shared bucket; when it grants none, the
    /// engine does not ask again before the bucket's retry time.
    func takeTokens(_ wanted: Int) -> Int {
        guard wanted > 0 else { return 0 }
        do {
            let grant = try QuotaRepository.take(database, key: quotaKey, wanted: wanted, accountQPS: config.accountQueryQPS)
            if grant.granted == 0 {
                quotaRetryAt = now + max(grant.retryInMilliseconds, 10)
                OutpaintingMetrics.quotaWait(.milliseconds(max(grant.retryInMilliseconds, 10)))
            }
            return grant.granted
        } catch {
            logger.warning("cannot read the shared query budget in MySQL; waiting", metadata: [LogKey.error: "\(error)"])
            quotaRetryAt = now + 1000
            return 0
        }
    }

    /// Every instance slows down: the shared bucket pauses and halves its rate.
    private func reportThrottled(_ error: DashScopeError) {
        statistics.throttled.add(1, ordering: .relaxed)
        let pause = max(CheckDecision.throttledPauseMilliseconds, error.retryAfterSeconds.map { Int64($0 * 1000) } ?? 0)
        quotaRetryAt = now + pause
        do {
            try QuotaRepository.throttled(database, key: quotaKey, pauseMilliseconds: pause, accountQPS: config.accountQueryQPS)
        } catch {
            logger.warning("cannot record a 429 in the shared query budget", metadata: [LogKey.error: "\(error)"])
        }
        logger.warning("DashScope throttled status queries (429); every instance pauses", metadata: ["pause_ms": "\(pause)"])
    }

    /// Returns tasks to the schedule unchanged, due when the bucket allows the next query.
    private func putBack(_ entries: [TaskTracker.Entry]) {
        let at = max(quotaRetryAt, now)
        for entry in entries { tracker.reschedule(taskId: entry.taskId, dueAt: at, checks: entry.checks) }
    }

    // MARK: - Decide, store, reschedule

    private func conclude(queried: [(TaskTracker.Entry, Result<DashScopeTaskView, DashScopeError>)],
                          listed: [(TaskTracker.Entry, TaskStatus)]) {
        let at = now
        for entry in queried.map(\.0) + listed.map(\.0) { OutpaintingMetrics.checkLateness(.milliseconds(at - entry.dueAt)) }
        var decisions: [(TaskTracker.Entry, CheckDecision, DashScopeTaskView?)] = []
        var throttle: DashScopeError?
        for (entry, result) in queried {
            let decision = CheckDecision.decide(checks: entry.checks, deadlineAt: entry.deadlineAt, now: at, result: result,
                                                backoff: config.backoff, random: Double.random(in: 0..<1))
            if case .failure(let error) = result {
                if error.kind == .throttled { throttle = error } else {
                    logger.warning("status query failed", metadata: [LogKey.taskID: "\(entry.taskId)", LogKey.error: "\(error)"])
                }
            }
            decisions.append((entry, decision, try? result.get()))
        }
        for (entry, status) in listed {
            let view = DashScopeTaskView(taskId: entry.taskId, status: status)
            let decision = CheckDecision.decide(checks: entry.checks, deadlineAt: entry.deadlineAt, now: at, result: .success(view),
                                                backoff: config.backoff, random: Double.random(in: 0..<1))
            decisions.append((entry, decision, view))
        }
        if let throttle { reportThrottled(throttle) }
        persist(decisions)
    }

    /// Stores a round's outcomes in one transaction, then updates the schedule.
    private func persist(_ decisions: [(TaskTracker.Entry, CheckDecision, DashScopeTaskView?)]) {
        guard !decisions.isEmpty else { return }
        do {
            try database.transaction { connection in
                var observations: [(view: DashScopeTaskView, nextCheckInMilliseconds: Int?)] = []
                for (entry, decision, view) in decisions.sorted(by: { $0.0.taskId < $1.0.taskId }) {
                    switch decision {
                    case .finished:
                        observations.append((view!, nil))
                    case .stillRunning(_, let next):
                        observations.append((view!, Int(next)))
                    case .expire:
                        try TaskRepository.expire(connection, taskId: entry.taskId,
                                                  reason: "任务超时：超过 \(config.taskDeadline.milliseconds / 60_000) 分钟仍未完成")
                    case .retryLater:
                        break
                    }
                }
                try TaskRepository.applyObservations(connection, observations)
            }
        } catch {
            logger.error("cannot store a round's outcomes; the tasks will be checked again",
                         metadata: ["tasks": "\(decisions.count)", LogKey.error: "\(error)"])
            let retryAt = now + 1000
            for (entry, _, _) in decisions { tracker.reschedule(taskId: entry.taskId, dueAt: retryAt, checks: entry.checks) }
            return
        }
        let at = now
        for (entry, decision, view) in decisions {
            switch decision {
            case .finished(let status):
                tracker.forget(entry.taskId)
                statistics.finished.add(1, ordering: .relaxed)
                OutpaintingMetrics.taskFinished(status.rawValue)
                if let end = view?.endTime.flatMap(DashScopeTime.parseTaskTime) {
                    OutpaintingMetrics.detectionDelay(.milliseconds(Int64((Date().timeIntervalSince1970 - end) * 1000)))
                }
                logger.info("task finished", metadata: [LogKey.taskID: "\(entry.taskId)", "status": "\(status.rawValue)",
                                                        "checks": "\(entry.checks + 1)"])
            case .expire:
                tracker.forget(entry.taskId)
                OutpaintingMetrics.taskFinished(TaskStatus.unknown.rawValue)
                logger.warning("task past its deadline; marked UNKNOWN", metadata: [LogKey.taskID: "\(entry.taskId)"])
            case .stillRunning(_, let next):
                tracker.reschedule(taskId: entry.taskId, dueAt: at + next, checks: entry.checks + 1)
            case .retryLater(let delay, _):
                tracker.reschedule(taskId: entry.taskId, dueAt: at + delay, checks: entry.checks)
            }
        }
    }
}
