import Common
import Foundation
import Logging
import Synchronization

/// `GET /api/picture/out_painting/get_task?taskId=…`: the task from MySQL, to its creator or an
/// admin; one live DashScope query when it is not final, nobody checked it recently and the
/// account's sweep is stale.
///
/// Final tasks are answered from a small in-process cache (`FINAL_TASK_CACHE_*`): a final row never
/// changes, and the frontend's last poll — or a user reopening the result — then costs no MySQL read.
struct GetTaskHandler {
    let configuration: ResponderConfiguration
    let finalTasks: SharedExpiringCache<TaskRecord>
    let sweep: SweepFreshness
    let logger: Logger

    func handle(_ request: FastCGIRequest, user: LoginUser, worker: ResponderWorker) throws -> JSONValue {
        let taskId = try GetTaskRequest.taskID(fromQuery: request.queryString)
        let requestId = request.params["REQUEST_ID"] ?? UUID().uuidString.lowercased()
        if let final = finalTasks.value(for: taskId) {
            guard final.userId == user.id || user.isAdmin else { throw BusinessError(.noAuth) }
            return final.hostJSON(requestId: requestId)
        }
        var logger = self.logger
        logger[metadataKey: LogKey.taskID] = "\(taskId)"
        guard var record = try worker.database.read({ try TaskRepository.find($0, taskId: taskId) }) else {
            throw BusinessError(.notFound, "任务不存在")
        }
        guard record.userId == user.id || user.isAdmin else { throw BusinessError(.noAuth) }

        if !record.status.isFinal, liveCheckAllowed(taskId: taskId, worker: worker, logger: logger) {
            do {
                let view = try RunSlots.whileWaiting { () throws(DashScopeError) in try worker.dashScope.task(taskId) }
                let before = record.status
                record = try worker.database.with { connection in
                    try TaskRepository.applyObservation(connection, view, nextCheckInMilliseconds: nil, unknownConfirm: configuration.unknownConfirm)
                    return try TaskRepository.find(connection, taskId: taskId) ?? record
                }
                if record.status.isFinal && !before.isFinal { OutpaintingMetrics.taskFinished(record.status.rawValue) }
            } catch let error as DashScopeError {
                // The stored state is still a correct (if older) answer; the Poller keeps following the task.
                logger.warning("live DashScope check failed; answering from MySQL", metadata: [LogKey.error: "\(error)"])
                if error.kind == .throttled {
                    try? QuotaRepository.throttled(worker.database, key: configuration.quotaKey,
                                                   pauseMilliseconds: CheckDecision.throttledPauseMilliseconds,
                                                   accountQPS: configuration.accountQueryQPS)
                }
            }
        }
        if record.status.isFinal {
            finalTasks.store(record, for: taskId)
        }
        return record.hostJSON(requestId: requestId)
    }

    /// A live check happens only while the account's sweep is stale (no Poller is learning the
    /// task's status), when this call wins the task's check claim (nobody checked it within
    /// `LIVE_CHECK_INTERVAL_MS`; concurrent calls for one task make one query) and the account's
    /// shared bucket grants a token; otherwise the answer comes from MySQL.
    private func liveCheckAllowed(taskId: String, worker: ResponderWorker, logger: Logger) -> Bool {
        guard !sweep.isFresh(database: worker.database) else { return false }
        do {
            guard try worker.database.read({
                try TaskRepository.claimLiveCheck($0, taskId: taskId, intervalMilliseconds: configuration.liveCheckInterval.milliseconds)
            }) else { return false }
            return try QuotaRepository.take(worker.database, key: configuration.quotaKey, wanted: 1,
                                            accountQPS: configuration.accountQueryQPS).granted == 1
        } catch {
            logger.warning("cannot claim a live check; answering from MySQL", metadata: [LogKey.error: "\(error)"])
            return false
        }
    }
}
