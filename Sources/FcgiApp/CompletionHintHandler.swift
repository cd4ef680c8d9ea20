import Common
import Foundation
import Logging

/// The optional endpoint for DashScope's "task finished" events (EventBridge → HTTP, DASHSCOPE.md §7).
///
/// The payload is unsigned, so it is only a hint: the task's id goes to Kafka as a hint message
/// (same key, so the same partition and owner as the task), and the owning Poller checks that task
/// now instead of at its next planned time. Nothing in the event ever sets a task's state.
/// Off unless `HINT_PATH` and `HINT_TOKEN` are set; the token comes in the header
/// `X-Outpainting-Token` (EventBridge's HTTP target sets custom headers), never in the URL, which
/// nginx would write to its access log.
struct CompletionHintHandler {
    let configuration: ResponderConfiguration
    let producer: KafkaProducer
    let logger: Logger

    func handle(_ request: FastCGIRequest, worker: ResponderWorker) -> FastCGIResponse {
        // From a header only: a token in the query string would land in nginx's access log.
        let presented = request.params["HTTP_X_OUTPAINTING_TOKEN"] ?? ""
        guard ConstantTime.equals(presented, configuration.hintToken) else {
            logger.warning("completion event with a wrong token refused")
            return .json(Envelope.failure(BusinessError(.forbidden)), status: 403)
        }
        guard let json = try? JSONParser().parse(request.body), let taskId = json["data"]?["task_id"]?.stringValue,
              (1...GetTaskRequest.maximumTaskIDLength).contains(taskId.utf8.count),
              taskId.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .json(Envelope.failure(BusinessError(.paramsError, "not a DashScope task event")))
        }
        var logger = self.logger
        logger[metadataKey: LogKey.taskID] = "\(taskId)"
        do {
            guard let record = try worker.database.read({ try TaskRepository.find($0, taskId: taskId) }), !record.status.isFinal else {
                return .json(Envelope.success(.object([("accepted", .bool(false))])))
            }
            let hint = OutPaintingTaskMessage(taskId: taskId, pictureId: record.pictureId, userId: record.userId,
                                              createTime: record.createdAtEpochMilliseconds, retryCount: record.retryCount,
                                              isCompletionHint: true)
            _ = try RunSlots.whileWaiting {
                try producer.send(topic: configuration.kafkaTopic, key: taskId, value: hint.encoded,
                                  timeout: configuration.kafkaAckTimeout)
            }
            logger.debug("completion hint forwarded")
            return .json(Envelope.success(.object([("accepted", .bool(true))])))
        } catch {
            // EventBridge retries on errors; polling remains the safety net either way.
            logger.warning("cannot forward a completion hint", metadata: [LogKey.error: "\(error)"])
            return .json(Envelope.failure(BusinessError(.systemError)), status: 503)
        }
    }

}
