import Common
import Foundation
import Logging

/// A round: learn the due tasks' statuses within the shared query budget, decide, store, reschedule.
extension PollerEngine {
    func runRound() {
        guard now >= quotaRetryAt else { return }
        // Hinted tasks (completion events) are fetched at once, before anything else.
        if !toFetch.isEmpty { return fetchRound() }
        let due = tracker.takeDue(now: now, limit: config.roundMax)
        guard !due.isEmpty else { return }
        let health = sweepHealth()
        if health.isFresh(staleAfter: config.sweepStaleAfter) {
            trustedRound(due, health: health)
        } else {
            OutpaintingMetrics.ownerChecks(due.count, mode: "fallback")
            singlesRound(due)
        }
    }

    /// The account's sweep as the sweeper last recorded it, read at most every half second.
    func sweepHealth() -> SweepHealth {
        if let cached = cachedSweepHealth, now - cached.at < 500 { return cached.health }
        let health = (try? database.with { try SweeperRepository.health($0, key: quotaKey) }) ?? .none
        cachedSweepHealth = (health, now)
        return health
    }

    // MARK: - Round kinds

    /// The sweep is fresh, so the sweeper learns every task's status and stores it: the owner only
    /// reads its due tasks' rows — final ones are forgotten, the others looked at again later
    /// (a DashScope query only for a task nobody has seen for too long, the safety net).
    private func trustedRound(_ due: [TaskTracker.Entry], health: SweepHealth) {
        let states: [String: TaskRepository.CheckState]
        do {
            states = try database.with { try TaskRepository.checkStates($0, due.map(\.taskId)) }
        } catch {
            logger.warning("cannot read due tasks' rows; trying again shortly", metadata: [LogKey.error: "\(error)"])
            for entry in due { tracker.reschedule(taskId: entry.taskId, dueAt: now + 1000, checks: entry.checks) }
            return
        }
        OutpaintingMetrics.ownerChecks(due.count, mode: "trusted_sweep")
        let unseenAfter = health.unseenRecheckMs(unseenAfter: config.unseenRecheck)
        var fallback: [TaskTracker.Entry] = []
        var expired: [(TaskTracker.Entry, CheckDecision, DashScopeTaskView?)] = []
        for entry in due {
            guard let state = states[entry.taskId], !state.status.isFinal else {
                tracker.forget(entry.taskId)  // finished (the sweeper stored it), or deleted
                continue
            }
            if now >= entry.deadlineAt {
                expired.append((entry, .expire, nil))
            } else if state.sinceSeenMilliseconds >= unseenAfter {
                fallback.append(entry)
            } else {
                let gap = config.backoff.longestGapMilliseconds(status: state.status)
                let jittered = Int64(Double(gap) * (1 - config.backoff.jitter * Double.random(in: 0..<1)))
                tracker.reschedule(taskId: entry.taskId, dueAt: now + jittered, checks: entry.checks, status: state.status)
            }
        }
        persist(expired)
        if !fallback.isEmpty {
            OutpaintingMetrics.ownerChecks(fallback.count, mode: "fallback")
            singlesRound(fallback)
        }
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
        conclude(queried: Array(zip(go, results)))
        logger.debug("round stored", metadata: ["tasks": "\(go.count)", "query_ms": "\((queried - started).milliseconds)",
                                                "store_ms": "\((ContinuousClock.now - queried).milliseconds)"])
    }

    /// Single queries for the tasks waiting in `toFetch` (a completion hint named them), as many as
    /// the bucket grants now; the rest wait for the next round.
    private func fetchRound() {
        let granted = takeTokens(min(toFetch.count, config.roundMax))
        guard granted > 0 else { return }
        let go = Array(toFetch.prefix(granted))
        toFetch.removeFirst(granted)
        conclude(queried: Array(zip(go, querySingles(go))))
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

    private func conclude(queried: [(TaskTracker.Entry, Result<DashScopeTaskView, DashScopeError>)]) {
        let at = now
        for entry in queried.map(\.0) { OutpaintingMetrics.checkLateness(.milliseconds(at - entry.dueAt)) }
        var decisions: [(TaskTracker.Entry, CheckDecision, DashScopeTaskView?)] = []
        var throttle: DashScopeError?
        for (entry, result) in queried {
            let decision = CheckDecision.decide(checks: entry.checks, lastStatus: entry.status, deadlineAt: entry.deadlineAt,
                                                now: at, result: result, backoff: config.backoff, random: Double.random(in: 0..<1))
            if case .failure(let error) = result {
                if error.kind == .throttled { throttle = error } else {
                    logger.warning("status query failed", metadata: [LogKey.taskID: "\(entry.taskId)", LogKey.error: "\(error)"])
                }
            }
            decisions.append((entry, decision, try? result.get()))
        }
        if let throttle { reportThrottled(throttle) }
        persist(decisions)
    }

    /// Stores a round's outcomes in one transaction, then updates the schedule.
    private func persist(_ decisions: [(TaskTracker.Entry, CheckDecision, DashScopeTaskView?)]) {
        guard !decisions.isEmpty else { return }
        let final: Set<String>
        do {
            final = try database.transaction { connection -> Set<String> in
                var observations: [TaskRepository.Observation] = []
                for (entry, decision, view) in decisions.sorted(by: { $0.0.taskId < $1.0.taskId }) {
                    switch decision {
                    case .finished:
                        observations.append(TaskRepository.Observation(view: view!))
                    case .stillRunning(_, let next, _):
                        observations.append(TaskRepository.Observation(view: view!, nextCheckInMilliseconds: Int(next)))
                    case .expire:
                        try TaskRepository.expire(connection, taskId: entry.taskId,
                                                  reason: "任务超时：超过 \(config.taskDeadline.milliseconds / 60_000) 分钟仍未完成")
                    case .retryLater:
                        break
                    }
                }
                return try TaskRepository.applyObservations(connection, observations, unknownConfirm: config.unknownConfirm)
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
            case .stillRunning(.unknown, let next, let checks):
                OutpaintingMetrics.unknownAnswer()
                if final.contains(entry.taskId) {
                    tracker.forget(entry.taskId)
                    OutpaintingMetrics.taskFinished(TaskStatus.unknown.rawValue)
                    logger.warning("DashScope kept answering UNKNOWN: the task is UNKNOWN now", metadata: [
                        LogKey.taskID: "\(entry.taskId)", "confirm": "\(config.unknownConfirm)"])
                } else {
                    logger.warning("DashScope answered UNKNOWN; not final until it says so for a while, asking again",
                                   metadata: [LogKey.taskID: "\(entry.taskId)", "next_ms": "\(next)"])
                    tracker.reschedule(taskId: entry.taskId, dueAt: at + next, checks: checks, status: .unknown)
                }
            case .stillRunning(let status, let next, let checks):
                tracker.reschedule(taskId: entry.taskId, dueAt: at + next, checks: checks, status: status)
            case .retryLater(let delay, _):
                tracker.reschedule(taskId: entry.taskId, dueAt: at + delay, checks: entry.checks)
            }
        }
    }
}
