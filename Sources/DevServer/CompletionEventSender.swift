import Common
import Foundation
import Logging
import ServiceLifecycle

/// Plays Aliyun EventBridge: when a simulated task finishes, POSTs a CloudEvent
/// (`dashscope:System:AsyncTaskFinish`, DASHSCOPE.md §7) to the configured target URL.
/// Like the real thing it is unsigned and best-effort (a failed delivery is not retried).
/// The target's secret goes in a header, as an EventBridge HTTP target's custom header would carry it.
struct CompletionEventSender: Service {
    let sim: SimulatedDashScope
    let senders: BlockingExecutor<HTTPClient>
    /// `X-Outpainting-Token` on every event (`DEVSERVER_EVENT_TOKEN`); nil = none.
    let token: String?
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            let (target, finished) = sim.drainFinished()
            guard let target, !finished.isEmpty else { continue }
            let headers = [("Content-Type", "application/cloudevents+json")] + (token.map { [("X-Outpainting-Token", $0)] } ?? [])
            for (task, status) in finished {
                let body = Array(Self.event(task: task, status: status).serialized.utf8)
                _ = try? await senders.run { client in
                    let response = try client.send(HTTPRequest(method: "POST", url: target, headers: headers,
                                                               body: body, timeout: .seconds(2)))
                    return response.status
                }
            }
        }
        await senders.shutdown()
    }

    static func event(task: SimulatedAccount.Task, status: TaskStatus) -> JSONValue {
        func seconds(_ t: Double?) -> JSONValue { t.map { .string(String(DashScopeTime.taskTime($0).prefix(19))) } ?? .null }
        return .object([
            ("id", .string(UUID().uuidString.lowercased())),
            ("source", .string("acs.dashscope")),
            ("specversion", .string("1.0")),
            ("type", .string("dashscope:System:AsyncTaskFinish")),
            ("datacontenttype", .string("application/json; charset=utf-8")),
            ("time", .string(ISO8601DateFormatter().string(from: Date()))),
            ("aliyunaccountid", .string("1")), ("aliyunoriginalaccountid", .string("1")),
            ("aliyunpublishtime", .string(ISO8601DateFormatter().string(from: Date()))),
            ("aliyuneventbusname", .string("default")), ("aliyunregionid", .string("cn-beijing")),
            ("data", .object([
                ("start_time", seconds(task.startAt)), ("end_time", seconds(task.endAt)),
                ("task_id", .string(task.taskId)), ("task_status", .string(status.rawValue)),
                ("contain_result", .bool(false)), ("region", .string("cn-beijing")),
                ("request_id", .string(UUID().uuidString.lowercased())), ("api_key_id", .string("1")),
                ("user_api_unique_key", .string("apikey:v1:aigc:image2image:out-painting:image-out-painting")),
            ])),
        ])
    }
}
