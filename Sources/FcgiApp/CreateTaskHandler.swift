import Common
import Foundation
import Logging

/// `POST /api/picture/out_painting/create_task`: validate, check the right to edit the picture,
/// submit to DashScope, store the task, hand it to the Poller through Kafka.
///
/// If the produce fails (broker down, no ack in time) the task is still stored and answered: its
/// row keeps `pollerPartition` NULL, and a Poller's reconciler adopts such rows once they are older
/// than `POLLER_ORPHAN_UNCLAIMED_S` (no Kafka needed), so the task is followed all the same.
struct CreateTaskHandler {
    let configuration: ResponderConfiguration
    let producer: KafkaProducer
    let logger: Logger

    func handle(_ request: FastCGIRequest, user: LoginUser, worker: ResponderWorker) throws -> JSONValue {
        let parsed = try CreateTaskRequest.parse(body: request.body, bodyTooLarge: request.bodyTooLarge)
        let (pictureID, parameters) = (parsed.pictureID, parsed.parameters)
        var logger = self.logger
        logger[metadataKey: LogKey.pictureID] = "\(pictureID)"

        let facts = try worker.database.read { try HostRepository.pictureFacts($0, pictureID: pictureID, userID: user.id) }
        if let refusal = EditPermission.businessError(for: EditPermission.decide(user: user, picture: facts)) {
            throw refusal
        }
        return try withDuplicateGuard(userID: user.id, pictureID: pictureID, parameters: parameters, worker: worker,
                                      logger: logger) { logger in
            try createNew(imageURL: facts!.url, pictureID: pictureID, parameters: parameters, user: user,
                          worker: worker, logger: logger)
        }
    }

    /// Runs `create` under a per-(user, picture) MySQL advisory lock, unless the same request was
    /// made within the duplicate window: then the task already created is the answer.
    private func withDuplicateGuard(userID: Int64, pictureID: Int64, parameters: OutPaintingParameters,
                                    worker: ResponderWorker, logger: Logger,
                                    _ create: (Logger) throws -> JSONValue) throws -> JSONValue {
        let window = Int(configuration.duplicateWindow.components.seconds)
        guard window > 0 else { return try create(logger) }
        let lockName = "outpainting:create:\(userID):\(pictureID)"
        return try worker.database.with { connection in
            // The lock lives on this connection; it is released below or when the connection drops.
            guard try connection.query("SELECT GET_LOCK(?, 5) AS locked", [.string(lockName)]).first?.int("locked") == 1 else {
                throw BusinessError(.operationError, "操作过于频繁，请稍后重试")
            }
            defer { _ = try? connection.query("SELECT RELEASE_LOCK(?) AS released", [.string(lockName)]) }
            if let existing = try TaskRepository.recentDuplicate(connection, userId: userID, pictureId: pictureID,
                                                                 parameters: parameters, windowSeconds: window) {
                logger.info("duplicate create_task within the window; answering the task already created",
                            metadata: [LogKey.taskID: "\(existing.taskId)"])
                return Self.createdJSON(taskId: existing.taskId, status: existing.status, requestId: existing.requestId ?? "")
            }
            return try create(logger)
        }
    }

    private func createNew(imageURL: String, pictureID: Int64, parameters: OutPaintingParameters, user: LoginUser,
                           worker: ResponderWorker, logger: Logger) throws -> JSONValue {
        var logger = logger
        let created = try submit(imageURL: imageURL, parameters: parameters, worker: worker, logger: logger)
        logger[metadataKey: LogKey.taskID] = "\(created.taskId)"

        do {
            // Retried once on a lost connection; a duplicate then means the first attempt committed.
            try worker.database.read { connection in
                do {
                    try TaskRepository.insert(connection, taskId: created.taskId, pictureId: pictureID, userId: user.id,
                                              status: created.status, requestId: created.requestId, parameters: parameters)
                } catch let error as MySQLError where error.errno == MySQLError.duplicateEntry {
                    return
                }
            }
        } catch {
            // DashScope accepted (and will bill) a task we could not store: say so loudly.
            logger.critical("DashScope task created but not stored", metadata: [LogKey.error: "\(error)"])
            throw BusinessError(.systemError)
        }
        OutpaintingMetrics.taskCreated()
        enqueue(taskId: created.taskId, pictureID: pictureID, userID: user.id, worker: worker, logger: logger)
        logger.info("task created")
        return Self.createdJSON(taskId: created.taskId, status: created.status, requestId: created.requestId)
    }

    /// The host's `data` for create_task: the DashScope create response, camelCased.
    static func createdJSON(taskId: String, status: TaskStatus, requestId: String) -> JSONValue {
        .object([
            ("output", .object([("taskId", .string(taskId)), ("taskStatus", .string(status.rawValue))])),
            ("code", .null), ("message", .null), ("requestId", .string(requestId)),
        ])
    }

    /// Submits to DashScope at the account's next free submission time (shared with every worker
    /// and instance through MySQL), within the configured budget; a 429 all the same (another
    /// client of the account) queues it again.
    private func submit(imageURL: String, parameters: OutPaintingParameters, worker: ResponderWorker,
                        logger: Logger) throws(BusinessError) -> DashScopeCreatedTask {
        let deadline = ContinuousClock.now + configuration.createThrottleBudget
        while true {
            try waitForSubmissionTime(until: deadline, worker: worker, logger: logger)
            do {
                return try RunSlots.whileWaiting { () throws(DashScopeError) in
                    try worker.dashScope.create(imageURL: imageURL, parameters: parameters)
                }
            } catch {
                switch error.kind {
                case .throttled:
                    logger.warning("DashScope answered 429 to a paced submission; queueing it again",
                                   metadata: [LogKey.error: "\(error)"])
                    if let seconds = error.retryAfterSeconds {
                        let pause = Duration.milliseconds(Int64(seconds * 1000))
                        guard ContinuousClock.now + pause < deadline else { throw Self.busy }
                        RunSlots.whileWaiting { Thread.sleep(forTimeInterval: seconds) }
                    }
                    // Paced, the next reservation is the pause; unpaced (rate 0), a short one of our own.
                    guard ContinuousClock.now + .milliseconds(100) < deadline else { throw Self.busy }
                    RunSlots.whileWaiting { Thread.sleep(forTimeInterval: 0.1) }
                case .badRequest:
                    throw BusinessError(.paramsError, error.message ?? "扩图参数错误")
                case .unauthorized:
                    logger.critical("DashScope refused our credentials or headers; check DASHSCOPE_API_KEY",
                                    metadata: [LogKey.error: "\(error)"])
                    throw BusinessError(.systemError, "AI 扩图服务配置错误")
                case .server, .transport, .malformed:
                    logger.error("DashScope create failed", metadata: [LogKey.error: "\(error)"])
                    throw BusinessError(.operationError, "AI 扩图任务创建失败")
                }
            }
        }
    }

    static let busy = BusinessError(.operationError, "AI 扩图服务繁忙，请稍后重试")

    /// Reserves the account's next submission time and sleeps until it (on this worker's own
    /// thread, never on Swift's cooperative pool).
    private func waitForSubmissionTime(until deadline: ContinuousClock.Instant, worker: ResponderWorker,
                                       logger: Logger) throws(BusinessError) {
        let wait: Duration?
        do {
            wait = try SubmissionPaceRepository.reserve(worker.database, key: configuration.quotaKey,
                                                        submissionsPerSecond: configuration.accountCreateQPS,
                                                        budget: deadline - ContinuousClock.now)
        } catch {
            logger.error("cannot reserve a submission time in MySQL", metadata: [LogKey.error: "\(error)"])
            throw BusinessError(.systemError)
        }
        guard let wait else {
            OutpaintingMetrics.createQueueFull()
            logger.warning("submission queue longer than the create budget; answering busy",
                           metadata: ["budget_ms": "\(configuration.createThrottleBudget.milliseconds)"])
            throw Self.busy
        }
        OutpaintingMetrics.createPaceWait(wait)
        if wait > .zero { RunSlots.whileWaiting { Thread.sleep(forTimeInterval: Double(wait.microseconds) / 1_000_000) } }
    }

    private func enqueue(taskId: String, pictureID: Int64, userID: Int64, worker: ResponderWorker, logger: Logger) {
        let message = OutPaintingTaskMessage(taskId: taskId, pictureId: pictureID, userId: userID,
                                             createTime: Int64(Date().timeIntervalSince1970 * 1000))
        do {
            let report = try RunSlots.whileWaiting {
                try producer.send(topic: configuration.kafkaTopic, key: taskId, value: message.encoded,
                                  timeout: configuration.kafkaAckTimeout)
            }
            try? worker.database.with { try TaskRepository.recordDelivery($0, taskId: taskId, report: report) }
        } catch {
            logger.warning("task stored but its Kafka message was not acknowledged; the Poller's reconciler will adopt it",
                           metadata: [LogKey.error: "\(error)"])
        }
    }
}
