/// DashScope's `image-out-painting` create call and the task-management API (query, list, cancel).
///
/// - Important: wraps a blocking `HTTPClient`; one instance per owned thread.
public final class DashScopeClient {
    public static let model = "image-out-painting"

    private let configuration: DashScopeConfiguration
    private let http: HTTPClient

    public init(configuration: DashScopeConfiguration, http: HTTPClient = HTTPClient()) {
        self.configuration = configuration
        self.http = http
    }

    private var authorization: (String, String) { ("Authorization", "Bearer \(configuration.apiKey)") }

    /// Submits an out-painting task (asynchronous: the answer is a task id).
    public func create(imageURL: String, parameters: OutPaintingParameters) throws(DashScopeError) -> DashScopeCreatedTask {
        let body = JSONValue.object([
            ("model", .string(Self.model)),
            ("input", .object([("image_url", .string(imageURL))])),
            ("parameters", parameters.dashScopeJSON),
        ])
        let json = try send(call: "create", HTTPRequest(
            method: "POST", url: "\(configuration.baseURL)/services/aigc/image2image/out-painting",
            headers: [authorization, ("Content-Type", "application/json"), ("X-DashScope-Async", "enable")],
            body: Array(body.serialized.utf8), timeout: configuration.createTimeout))
        guard let output = json["output"], let taskId = output["task_id"]?.stringValue, !taskId.isEmpty else {
            throw Self.malformed("create answer without output.task_id", json)
        }
        let status = output["task_status"]?.stringValue.flatMap(TaskStatus.init(rawValue:)) ?? .pending
        return DashScopeCreatedTask(taskId: taskId, status: status, requestId: json["request_id"]?.stringValue ?? "")
    }

    /// The single-task query: status and, once final, the result URL or the error.
    public func task(_ taskId: String) throws(DashScopeError) -> DashScopeTaskView {
        let json = try send(call: "task", HTTPRequest(url: "\(configuration.baseURL)/tasks/\(Self.pathEscape(taskId))",
                                        headers: [authorization], timeout: configuration.queryTimeout))
        guard let output = json["output"], let status = output["task_status"]?.stringValue else {
            throw Self.malformed("query answer without output.task_status", json)
        }
        return DashScopeTaskView(
            taskId: output["task_id"]?.stringValue ?? taskId,
            // A status word this client does not know is treated as still running, as the SDKs do.
            status: TaskStatus(rawValue: status) ?? .running,
            submitTime: output["submit_time"]?.stringValue,
            scheduledTime: output["scheduled_time"]?.stringValue,
            endTime: output["end_time"]?.stringValue,
            outputImageUrl: output["output_image_url"]?.stringValue,
            code: output["code"]?.stringValue,
            message: output["message"]?.stringValue,
            requestId: json["request_id"]?.stringValue)
    }

    /// One page of the account's tasks (list query). Times are DashScope's `YYYYMMDDhhmmss` (UTC+8).
    public func list(startTime: String?, endTime: String?, status: TaskStatus?, modelName: String? = DashScopeClient.model,
                     pageNo: Int, pageSize: Int) throws(DashScopeError) -> DashScopeListPage {
        var query: [String] = ["page_no=\(pageNo)", "page_size=\(pageSize)"]
        if let startTime { query.append("start_time=\(startTime)") }
        if let endTime { query.append("end_time=\(endTime)") }
        if let status { query.append("status=\(status.rawValue)") }
        if let modelName { query.append("model_name=\(Self.pathEscape(modelName))") }
        let json = try send(call: "list", HTTPRequest(url: "\(configuration.baseURL)/tasks?\(query.joined(separator: "&"))",
                                        headers: [authorization], timeout: configuration.queryTimeout))
        guard case .array(let data)? = json["data"] else { throw Self.malformed("list answer without data", json) }
        let entries = data.compactMap { item -> DashScopeListEntry? in
            guard let id = item["task_id"]?.stringValue, let s = item["status"]?.stringValue else { return nil }
            return DashScopeListEntry(taskId: id, status: TaskStatus(rawValue: s) ?? .running,
                                      submittedAtEpochMs: item["gmt_create"]?.int64Value)
        }
        return DashScopeListPage(entries: entries,
                                 total: json["total"]?.int64Value.map { Int($0) } ?? entries.count,
                                 totalPages: json["total_page"]?.int64Value.map { Int($0) } ?? 1,
                                 pageNo: json["page_no"]?.int64Value.map { Int($0) } ?? pageNo)
    }

    /// Cancels a PENDING task.
    public func cancel(_ taskId: String) throws(DashScopeError) {
        _ = try send(call: "cancel", HTTPRequest(method: "POST", url: "\(configuration.baseURL)/tasks/\(Self.pathEscape(taskId))/cancel",
                                 headers: [authorization], timeout: configuration.queryTimeout))
    }

    // MARK: - Transport

    /// Sends and counts one call (`outpainting_dashscope_*`, and `outpainting_status_queries_total`
    /// for task and list queries).
    private func send(call: String, _ request: HTTPRequest) throws(DashScopeError) -> JSONValue {
        let started = ContinuousClock.now
        do {
            let json = try exchange(request)
            Self.count(call, outcome: "ok", since: started)
            return json
        } catch {
            let outcome = switch error.kind {
            case .throttled: "throttled"
            case .unauthorized, .badRequest: "client_error"
            case .server: "server_error"
            case .transport: "transport"
            case .malformed: "malformed"
            }
            Self.count(call, outcome: outcome, since: started)
            throw error
        }
    }

    private static func count(_ call: String, outcome: String, since started: ContinuousClock.Instant) {
        OutpaintingMetrics.dashScopeCall(call, outcome: outcome, duration: ContinuousClock.now - started)
        switch call {
        case "task": OutpaintingMetrics.statusQuery(kind: "single", outcome: outcome)
        case "list": OutpaintingMetrics.statusQuery(kind: "list", outcome: outcome)
        default: break
        }
    }

    private func exchange(_ request: HTTPRequest) throws(DashScopeError) -> JSONValue {
        let response: HTTPResponse
        do {
            response = try http.send(request)
        } catch {
            throw DashScopeError(kind: .transport, httpStatus: 0, code: nil, message: error.reason, requestId: nil,
                                 retryAfterSeconds: nil)
        }
        let json = try? JSONParser().parse(response.body)
        guard response.status == 200 else {
            let kind: DashScopeError.Kind = switch response.status {
            case 429: .throttled
            case 401, 403: .unauthorized
            case 400..<500: .badRequest
            default: .server
            }
            throw DashScopeError(kind: kind, httpStatus: response.status, code: json?["code"]?.stringValue,
                                 message: json?["message"]?.stringValue, requestId: json?["request_id"]?.stringValue,
                                 retryAfterSeconds: Self.retryAfter(response.headers["retry-after"]))
        }
        guard let json else {
            throw DashScopeError(kind: .malformed, httpStatus: 200, code: nil, message: "answer is not JSON",
                                 requestId: nil, retryAfterSeconds: nil)
        }
        return json
    }

    /// `Retry-After` in seconds, only when it is a sane number (0…300): an upstream header must not
    /// be able to trap a conversion or park a task for days.
    static func retryAfter(_ header: String?) -> Double? {
        guard let header, let seconds = Double(header), seconds.isFinite, (0...300).contains(seconds) else { return nil }
        return seconds
    }

    private static func malformed(_ what: String, _ json: JSONValue) -> DashScopeError {
        DashScopeError(kind: .malformed, httpStatus: 200, code: nil, message: what,
                       requestId: json["request_id"]?.stringValue, retryAfterSeconds: nil)
    }

    /// Percent-encodes everything but unreserved characters, so an id can never change the path.
    static func pathEscape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
