import Common
import Foundation
import Logging

extension PollerEngine {
    /// Settles submissions whose DashScope answer was lost (`SubmissionRepository`): for each, the
    /// list query over a window around its send time, by submit time and model, and the one task
    /// there we know nothing of (`SubmissionMatch`) becomes the row's task — stored, then adopted
    /// and followed like any unclaimed task. None once the task would surely be listed: DashScope
    /// created nothing. Several: ambiguous, left for an operator (never guessed: the user is never
    /// charged twice). The instance that wins a row's `requeueTime` lease settles it.
    func settleSubmissions() {
        let intents: [SubmissionRepository.Unsettled]
        do {
            intents = try database.with {
                try SubmissionRepository.unsettledIntents($0, sentSeconds: Int(config.submissionAnswerWait.components.seconds),
                                                          unsentSeconds: Int(config.submissionUnsentWait.components.seconds), limit: 20)
            }
        } catch {
            logger.warning("cannot read unsettled submissions", metadata: [LogKey.error: "\(error)"])
            return
        }
        let lease = Int(max(config.reconcileInterval, .seconds(5)).components.seconds) * 2
        for intent in intents {
            var logger = self.logger
            logger[metadataKey: "submission"] = "\(intent.placeholder)"
            guard (try? database.with({ try TaskRepository.leaseRequeue($0, taskId: intent.placeholder, leaseSeconds: lease) })) == true else {
                continue
            }
            guard let sentAt = intent.submittedAtEpochMs else {
                // Never sent (the process stopped before sending): DashScope has nothing.
                try? database.with { try SubmissionRepository.discardUnsent($0, placeholder: intent.placeholder) }
                OutpaintingMetrics.submissionSettled("not_sent")
                logger.info("an intent that was never sent is dropped")
                continue
            }
            switch match(sentAtEpochMs: sentAt, logger: logger) {
            case nil:
                return  // the list query failed or the budget is spent: next reconcile
            case .found(let taskId, let status)?:
                do {
                    guard try database.with({ try SubmissionRepository.settle($0, placeholder: intent.placeholder, taskId: taskId,
                                                                                taskStatus: status) }) else { continue }
                    OutpaintingMetrics.submissionSettled("found")
                    logger.warning("a lost create answer is settled: DashScope had created the task; it is stored and followed now",
                                   metadata: [LogKey.taskID: "\(taskId)"])
                    if status.isFinal { fetchSettled(taskId, logger: logger) }
                } catch {
                    logger.error("cannot store a settled submission; the next reconcile tries again", metadata: [LogKey.error: "\(error)"])
                }
            case .none?:
                let waited = nowEpochMs - sentAt
                guard waited >= config.submissionSettleAfter.milliseconds else { continue }
                try? database.with {
                    try SubmissionRepository.markNotAccepted($0, placeholder: intent.placeholder,
                                                             reason: "DashScope 没有收到这次提交（已在任务列表中核对），未创建任务，也不计费")
                }
                OutpaintingMetrics.submissionSettled("not_accepted")
                logger.warning("a lost create answer is settled: DashScope created no task", metadata: ["waited_ms": "\(waited)"])
            case .ambiguous(let candidates)?:
                try? database.with { try SubmissionRepository.markAmbiguous($0, placeholder: intent.placeholder, candidates: candidates) }
                OutpaintingMetrics.submissionSettled("ambiguous")
                logger.error("a lost create answer cannot be settled: several unknown tasks of the account were submitted at that instant; an operator must choose",
                             metadata: ["candidates": "\(candidates.joined(separator: ","))"])
            }
        }
    }

    /// A settled task that already finished: its result (or error) is only in the single view.
    private func fetchSettled(_ taskId: String, logger: Logger) {
        guard takeTokens(1) == 1 else { return }  // else an owner's fallback finds it
        let result = queries.runAll([{ @Sendable (client: inout DashScopeClient) -> Result<DashScopeTaskView, DashScopeError> in
            Result { () throws(DashScopeError) in try client.task(taskId) }
        }])[0]
        statistics.singleQueries.add(1, ordering: .relaxed)
        if case .success(let view) = result {
            _ = try? database.transaction {
                try TaskRepository.applyObservations($0, [TaskRepository.Observation(view: view)], unknownConfirm: config.unknownConfirm)
            }
        }
    }

    private enum Settled { case found(String, TaskStatus), none, ambiguous([String]) }

    /// The list around `sentAtEpochMs` (±60 s, every status, this model), matched.
    private func match(sentAtEpochMs sentAt: Int64, logger: Logger) -> Settled? {
        let from = sentAt - 60_000, to = sentAt + 60_000
        var listed: [String: Int64] = [:], statuses: [String: TaskStatus] = [:]
        var page = 1, pages = 1
        while page <= pages {
            guard takeTokens(1) == 1 else { return nil }
            let pageNo = page
            let result = queries.runAll([{ @Sendable (client: inout DashScopeClient) -> Result<DashScopeListPage, DashScopeError> in
                Result { () throws(DashScopeError) in
                    try client.list(startTime: DashScopeTime.filterTime(Double(from) / 1000), endTime: DashScopeTime.filterTime(Double(to) / 1000),
                                    status: nil, pageNo: pageNo, pageSize: AccountSweeper.pageSize)
                }
            }])[0]
            statistics.listQueries.add(1, ordering: .relaxed)
            switch result {
            case .failure(let error):
                logger.warning("settlement: list query failed; the next reconcile tries again", metadata: [LogKey.error: "\(error)"])
                return nil
            case .success(let listPage):
                for entry in listPage.entries {
                    if let at = entry.submittedAtEpochMs { listed[entry.taskId] = at }
                    statuses[entry.taskId] = entry.status
                }
                pages = max(listPage.totalPages, 1)
            }
            page += 1
        }
        let ours: [String: Int64], known: Set<String>
        do {
            (ours, known) = try database.with {
                (try SubmissionRepository.sentBetween($0, fromEpochMs: from - 60_000, toEpochMs: to + 60_000),
                 try SubmissionRepository.known($0, Array(listed.keys)))
            }
        } catch {
            return nil
        }
        switch SubmissionMatch.match(sentAtEpochMs: sentAt, listed: listed, ourSends: ours, known: known,
                                     tolerance: SubmissionMatch.tolerance(submissionsPerSecond: config.accountCreateQPS)) {
        case .found(let taskId): return .found(taskId, statuses[taskId] ?? .pending)
        case .none: return Settled.none
        case .ambiguous(let candidates): return .ambiguous(candidates)
        }
    }
}
