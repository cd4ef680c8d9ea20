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

        if !record.status.isFinal,
           record.millisecondsSinceCheck.map({ $0 >= configuration.liveCheckInterval.milliseconds }) ?? true,
           liveCheckAllowed(worker: worker, logger: logger) {
            do {
                let view = try worker.dashScope.task(taskId)
                record = try worker.database.with { connection in
                    try TaskRepository.applyObservation(connection, view, nextCheckInMilliseconds: nil)
                    return try TaskRepository.find(connection, taskId: taskId) ?? record
                }
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

    /// One token from the account's shared query bucket; without one, the answer comes from MySQL.
    private func liveCheckAllowed(worker: ResponderWorker, logger: Logger) -> Bool {
        do {
            return try QuotaRepository.take(worker.database, key: configuration.quotaKey, wanted: 1,
                                            accountQPS: configuration.accountQueryQPS).granted == 1
        } catch {
            logger.warning("cannot read the shared query budget; answering from MySQL", metadata: [LogKey.error: "\(error)"])
            return false
        }
    }
}
