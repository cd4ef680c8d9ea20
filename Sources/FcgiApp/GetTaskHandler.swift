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
        guard var record = try worker.database.with({ try TaskRepository.find($0, taskId: taskId) }) else {
            throw BusinessError(.notFound, "任务不存在")
        }
        guard record.userId == user.id || user.isAdmin else { throw BusinessError(.noAuth) }

        if !record.status.isFinal,
           record.millisecondsSinceCheck.map({ $0 >= configuration.liveCheckInterval.milliseconds }) ?? true {
            do {
                let view = try worker.dashScope.task(taskId)
                record = try worker.database.with { connection in
                    try TaskRepository.applyObservation(connection, view, nextCheckInMilliseconds: nil)
                    return try TaskRepository.find(connection, taskId: taskId) ?? record
                }
            } catch let error as DashScopeError {
                // The stored state is still a correct (if older) answer; the Poller keeps following the task.
                logger.warning("live DashScope check failed; answering from MySQL", metadata: [LogKey.error: "\(error)"])
            }
        }
        return record.hostJSON(requestId: request.params["REQUEST_ID"] ?? UUID().uuidString.lowercased())
    }
}
