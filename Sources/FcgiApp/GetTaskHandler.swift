import Common
import Foundation
import Logging

/// `GET /api/picture/out_painting/get_task?taskId=…`: the task from MySQL, to its creator or an
/// admin; one live DashScope query when it is not final and nobody checked it recently.
struct GetTaskHandler {
    let configuration: ResponderConfiguration
    let logger: Logger

    func handle(_ request: FastCGIRequest, user: LoginUser, worker: ResponderWorker) throws -> JSONValue {
        let taskId = try GetTaskRequest.taskID(fromQuery: request.queryString)
        var logger = self.logger
        logger[metadataKey: LogKey.taskID] = "\(taskId)"
        guard var record = try worker.database.read({ try TaskRepository.find($0, taskId: taskId) }) else {
            throw BusinessError(.notFound, "任务不存在")
        }
        guard record.userId == user.id || user.isAdmin else { throw BusinessError(.noAuth) }

        if !record.status.isFinal, liveCheckAllowed(taskId: taskId, worker: worker, logger: logger) {
            do {
                let view = try worker.dashScope.task(taskId)
                let before = record.status
                record = try worker.database.with { connection in
                    try TaskRepository.applyObservation(connection, view, nextCheckInMilliseconds: nil)
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
        return record.hostJSON(requestId: request.params["REQUEST_ID"] ?? UUID().uuidString.lowercased())
    }

    /// A live check happens when this call wins the task's check claim (nobody checked it within
    /// `LIVE_CHECK_INTERVAL_MS`; concurrent calls for one task make one query) and the account's
    /// shared bucket grants a token; otherwise the answer comes from MySQL.
    private func liveCheckAllowed(taskId: String, worker: ResponderWorker, logger: Logger) -> Bool {
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
