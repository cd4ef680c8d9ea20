import Common
import Foundation
import Logging

/// `POST /api/picture/out_painting/create_task`: validate, check the right to edit the picture and
/// the user's limits, record the intent, submit to DashScope, store the task, hand it to the Poller
/// through Kafka.
///
/// Every DashScope task is paid, so nothing is submitted unless its intent is stored first
/// (`SubmissionRepository`): a row that cannot be written costs nothing, and an answer that is lost
/// after sending leaves the intent for a Poller to settle — never a second submission for the same
/// user, picture and parameters while it is unsettled.
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
        return try withPictureLock(userID: user.id, pictureID: pictureID, worker: worker) { connection in
            // A double click, or a retry after a lost answer: the task that exists is the answer.
            if let existing = try TaskRepository.recentDuplicate(connection, userId: user.id, pictureId: pictureID,
                                                                 parameters: parameters, windowSeconds: duplicateWindowSeconds) {
                logger.info("the same create_task again; answering the task already created", metadata: [LogKey.taskID: "\(existing.taskId)"])
                return Self.createdJSON(taskId: existing.taskId, status: existing.status, requestId: existing.requestId ?? "")
            }
            if try SubmissionRepository.unsettled(connection, userId: user.id, pictureId: pictureID, parameters: parameters) {
                OutpaintingMetrics.createRefused("unsettled")
                throw BusinessError(.operationError, "上一次提交的结果正在确认中，请稍后刷新查看，无需重复提交")
            }
            let placeholder = SubmissionRepository.placeholderPrefix + UUID().uuidString.lowercased()
            try recordIntent(placeholder: placeholder, pictureID: pictureID, parameters: parameters, user: user, connection: connection,
                             logger: logger)
            return try submitRecorded(placeholder: placeholder, imageURL: facts!.url, pictureID: pictureID, parameters: parameters,
                                      user: user, worker: worker, logger: logger)
        }
    }

    private var duplicateWindowSeconds: Int { Int(configuration.duplicateWindow.components.seconds) }

    /// Runs `body` under a per-(user, picture) MySQL advisory lock: the same request twice at once
    /// is handled one after the other, so the second finds the first's task.
    private func withPictureLock(userID: Int64, pictureID: Int64, worker: ResponderWorker,
                                 _ body: (MySQLConnection) throws -> JSONValue) throws -> JSONValue {
        try worker.database.with { connection in
            try AdvisoryLock.holding("outpainting:create:\(userID):\(pictureID)", on: connection, wait: configuration.createLockWait) {
                try body(connection)
            }
        }
    }

    /// Checks the user's limits and stores the intent, under a per-user lock so two concurrent
    /// creates of one user cannot both slip under a limit.
    private func recordIntent(placeholder: String, pictureID: Int64, parameters: OutPaintingParameters, user: LoginUser,
                              connection: MySQLConnection, logger: Logger) throws {
        try AdvisoryLock.holding("outpainting:create-user:\(user.id)", on: connection, wait: configuration.createLockWait) {
            let counts = try SubmissionRepository.counts(connection, userId: user.id)
            if let refusal = configuration.userLimits.refusal(for: counts) {
                OutpaintingMetrics.createRefused(refusal.reason)
                logger.info("create_task refused by a per-user limit", metadata: ["limit": "\(refusal.reason)"])
                throw BusinessError(.operationError, refusal.message)
            }
            do {
                try SubmissionRepository.recordIntent(connection, placeholder: placeholder, pictureId: pictureID, userId: user.id,
                                                      parameters: parameters)
            } catch {
                // Nothing was sent to DashScope: nothing is paid.
                logger.error("cannot store the task before submitting it; nothing sent to DashScope", metadata: [LogKey.error: "\(error)"])
                throw BusinessError(.systemError)
            }
        }
    }

    /// Submits the recorded intent and turns it into the task — or leaves it for settlement when
    /// DashScope's answer is lost.
    private func submitRecorded(placeholder: String, imageURL: String, pictureID: Int64, parameters: OutPaintingParameters,
                                user: LoginUser, worker: ResponderWorker, logger: Logger) throws -> JSONValue {
        var logger = logger
        let created: DashScopeCreatedTask
        do {
            created = try submit(placeholder: placeholder, imageURL: imageURL, parameters: parameters, worker: worker, logger: logger)
        } catch {
            switch error {
            case .notSent(let refusal), .refused(let refusal):
                try? worker.database.with { try SubmissionRepository.discard($0, placeholder: placeholder) }
                throw refusal
            case .unclear(let error):
                OutpaintingMetrics.createUnclear()
                logger.error("DashScope's answer to a create was lost; the submission will be settled from DashScope's list",
                             metadata: [LogKey.error: "\(error)", "placeholder": "\(placeholder)"])
                try? worker.database.with { try SubmissionRepository.markUnclear($0, placeholder: placeholder, reason: "\(error)") }
                throw BusinessError(.operationError, "提交结果未知，系统正在向 AI 服务确认，请稍后刷新查看，无需重复提交")
            }
        }
        logger[metadataKey: LogKey.taskID] = "\(created.taskId)"
        do {
            // Retried once on a lost connection (the statement is idempotent).
            try worker.database.read {
                try SubmissionRepository.complete($0, placeholder: placeholder, taskId: created.taskId, taskStatus: created.status,
                                                  requestId: created.requestId)
            }
        } catch {
            // DashScope accepted (and will bill) the task: the intent stays, with its send time, and
            // a Poller settles it from DashScope's list.
            logger.critical("DashScope task created but not stored; it will be settled from DashScope's list",
                            metadata: [LogKey.error: "\(error)", "placeholder": "\(placeholder)"])
            throw BusinessError(.systemError, "任务已提交，结果确认中，请稍后刷新查看")
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

    /// Why a submission did not produce a task: not sent at all, refused by DashScope (nothing
    /// created), or unclear (sent, answer lost: a task may exist).
    enum SubmitFailure: Error {
        case notSent(BusinessError)
        case refused(BusinessError)
        case unclear(DashScopeError)
    }

    /// Submits to DashScope at the account's next free submission time (shared with every worker
    /// and instance through MySQL), within the configured budget; a 429 all the same (another
    /// client of the account) queues it again: a 429 created nothing.
    private func submit(placeholder: String, imageURL: String, parameters: OutPaintingParameters, worker: ResponderWorker,
                        logger: Logger) throws(SubmitFailure) -> DashScopeCreatedTask {
        let deadline = ContinuousClock.now + configuration.createThrottleBudget
        while true {
            do {
                try waitForSubmissionTime(until: deadline, worker: worker, logger: logger)
                guard try worker.database.read({ try SubmissionRepository.markSending($0, placeholder: placeholder) }) else {
                    logger.error("the task's intent is gone before sending (settled as never sent); nothing sent to DashScope")
                    throw Self.busy
                }
            } catch let error as BusinessError {
                throw .notSent(error)
            } catch {
                logger.error("cannot record the send time; nothing sent to DashScope", metadata: [LogKey.error: "\(error)"])
                throw .notSent(BusinessError(.systemError))
            }
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
                        guard ContinuousClock.now + pause < deadline else { throw .notSent(Self.busy) }
                        RunSlots.whileWaiting { Thread.sleep(forTimeInterval: seconds) }
                    }
                    // Paced, the next reservation is the pause; unpaced (rate 0), a short one of our own.
                    guard ContinuousClock.now + .milliseconds(100) < deadline else { throw .notSent(Self.busy) }
                    RunSlots.whileWaiting { Thread.sleep(forTimeInterval: 0.1) }
                case .badRequest:
                    throw .refused(BusinessError(.paramsError, error.message ?? "扩图参数错误"))
                case .unauthorized:
                    logger.critical("DashScope refused our credentials or headers; check DASHSCOPE_API_KEY",
                                    metadata: [LogKey.error: "\(error)"])
                    throw .refused(BusinessError(.systemError, "AI 扩图服务配置错误"))
                case .server, .transport, .malformed:
                    // Sent, and the answer is an error page, a reset, a timeout or nonsense: DashScope
                    // may have created the task all the same.
                    throw .unclear(error)
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
