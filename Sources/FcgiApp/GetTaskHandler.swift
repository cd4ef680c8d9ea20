import Common
import Foundation
import Logging

/// `GET /api/picture/out_painting/get_task?taskId=…`: the task from MySQL, to its creator or an
/// admin; one live DashScope query when it is not final and nobody checked it recently.
struct GetTaskHandler {
    static let maximumTaskIDLength = 128

    let configuration: ResponderConfiguration
    let logger: Logger

    func handle(_ request: FastCGIRequest, user: LoginUser, worker: ResponderWorker) throws -> JSONValue {
        let taskId = try Self.taskID(fromQuery: request.queryString)
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

    /// The `taskId` query parameter: present, not blank, at most 128 bytes, printable ASCII.
    static func taskID(fromQuery query: String) throws(BusinessError) -> String {
        var value: String?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.first == "taskId" else { continue }
            value = kv.count == 2 ? percentDecode(kv[1]) : ""
            break
        }
        guard let value, !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw BusinessError(.paramsError, "taskId 不能为空")
        }
        guard value.utf8.count <= maximumTaskIDLength, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw BusinessError(.paramsError, "taskId 无效")
        }
        return value
    }

    /// Decodes `%XX` and `+`; nil for a malformed escape or bytes that are not UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let h = iterator.next(), let l = iterator.next(),
                      let value = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
