import Common
import Foundation
import HTTPTypes
import Hummingbird

/// DashScope's HTTP surface as DASHSCOPE.md describes it: create, single query, list query, cancel.
struct DashScopeRoutes: Sendable {
    let sim: SimulatedDashScope
    let apiKey: String
    let publicURL: String

    func register(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/services/aigc/image2image/out-painting") { request, _ in
            try await sim.inFlightCreate { try await create(request) }
        }
        router.get("/api/v1/tasks/:id") { request, context in
            try await query(request, id: context.parameters.get("id") ?? "")
        }
        router.get("/api/v1/tasks") { request, _ in try await list(request) }
        router.post("/api/v1/tasks/:id/cancel") { request, context in
            try await cancel(request, id: context.parameters.get("id") ?? "")
        }
    }

    // MARK: - Create

    private func create(_ request: Request) async throws -> Response {
        var request = request
        try await simulateLatency()
        if let refusal = authorize(request) { return refusal }
        guard request.headers[HTTPField.Name("X-DashScope-Async")!] == "enable" else {
            return error(403, "AccessDenied", "current user api does not support synchronous calls")
        }
        if let forced = Self.forcedCreateError(sim.settings.createErrorStatus) {
            return error(forced.status, forced.code, forced.message)
        }
        if sim.admitCreate() == .throttled {
            return error(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
        }
        let body = try await request.collectBody(upTo: 1 << 20)
        guard let json = try? JSONParser().parse(Array(buffer: body)), case .object = json else {
            return error(400, "InvalidParameter.JsonPhrase", "input json error")
        }
        guard json["model"]?.stringValue == DashScopeClient.model else {
            return error(400, "InvalidParameter", "Model not exist.")
        }
        guard let imageURL = json["input"]?["image_url"]?.stringValue, !imageURL.isEmpty else {
            return error(400, "InvalidParameter", "Required parameter(input.image_url) missing or invalid, please check the request parameters.")
        }
        guard let parameters = json["parameters"], case .object = parameters else {
            return error(400, "BadRequest.EmptyParameters", "Required parameter(parameters) missing or invalid, please check the request parameters.")
        }
        if let bad = Self.invalidParameter(parameters) {
            return error(400, "InvalidParameter", "the parameters must conform to the specification: \(bad)")
        }
        let hooks = SimulationHooks(imageURL: imageURL)
        let id = sim.submit(durationMs: hooks.durationMs, outcome: hooks.outcome)
        let answerDelay = sim.settings.createAnswerDelayMs
        if answerDelay > 0 { try await Task.sleep(for: .milliseconds(answerDelay)) }
        return ok(.object([
            ("output", .object([("task_status", .string("PENDING")), ("task_id", .string(id))])),
            ("request_id", .string(Self.requestID())),
        ]))
    }

    /// The error DashScope documents for each status a test can force on create (DASHSCOPE.md §4).
    static func forcedCreateError(_ status: Int) -> (status: Int, code: String, message: String)? {
        switch status {
        case 400: (400, "InvalidParameter.FileDownload", "oss download error")
        case 401: (401, "InvalidApiKey", "Invalid API-key provided.")
        case 403: (403, "AccessDenied.Unpurchased", "Access to model denied. Please make sure you are eligible for using the model.")
        case 429: (429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
        case 500: (500, "InternalError", "An internal error has occured, please try again later or contact service support.")
        case 503: (503, "ModelServingError", "Too many requests. Your requests are being throttled due to system capacity limits.")
        default: nil
        }
    }

    /// The first parameter outside DASHSCOPE.md §2.2's ranges, by name.
    static func invalidParameter(_ p: JSONValue) -> String? {
        func int(_ name: String, _ range: ClosedRange<Int64>) -> Bool {
            guard let v = p[name] else { return true }
            return v.int64Value.map(range.contains) ?? false
        }
        func scale(_ name: String) -> Bool {
            guard let v = p[name] else { return true }
            return v.doubleValue.map { $0 >= 1 && $0 <= 3 } ?? false
        }
        if !int("angle", 0...359) { return "angle" }
        if let r = p["output_ratio"], !(r.stringValue.map(OutPaintingParameters.allowedRatios.contains) ?? false) { return "output_ratio" }
        if !scale("x_scale") { return "x_scale" }
        if !scale("y_scale") { return "y_scale" }
        for name in ["top_offset", "bottom_offset", "left_offset", "right_offset"]
        where !int(name, 0...Int64(OutPaintingParameters.maximumOffset)) { return name }
        for name in ["best_quality", "limit_image_size", "add_watermark"] {
            if let v = p[name], v.boolValue == nil { return name }
        }
        return nil
    }

    // MARK: - Query

    private func query(_ request: Request, id: String) async throws -> Response {
        try await simulateLatency()
        if let refusal = authorize(request) { return refusal }
        if let refusal = try await admitQuery(.single) { return refusal }
        let requestID = Self.requestID()
        guard let (task, status) = sim.task(id) else {
            return ok(.object([("request_id", .string(requestID)),
                               ("output", .object([("task_id", .string(id)), ("task_status", .string("UNKNOWN"))]))]))
        }
        var output: [(String, JSONValue)] = [("task_id", .string(id)), ("task_status", .string(status.rawValue))]
        output.append(("submit_time", .string(DashScopeTime.taskTime(task.submitAt))))
        if status != .pending, let start = task.startAt {
            output.append(("scheduled_time", .string(DashScopeTime.taskTime(start))))
        }
        switch status {
        case .succeeded:
            output.append(("end_time", .string(DashScopeTime.taskTime(task.endAt!))))
            output.append(("output_image_url", .string("\(publicURL)/results/\(id).png?Expires=\(Int(task.endAt! + 86_400))")))
        case .failed:
            output.append(("end_time", .string(DashScopeTime.taskTime(task.endAt!))))
            output.append(("code", .string("InternalError.Algo")))
            output.append(("message", .string("algorithm process error")))
        case .canceled:
            output.append(("end_time", .string(DashScopeTime.taskTime(task.canceledAt!))))
        default:
            break
        }
        if status == .succeeded || status == .failed || status == .running {
            let succeeded = status == .succeeded ? 1 : 0, failed = status == .failed ? 1 : 0
            output.append(("task_metrics", .object([("TOTAL", .int(1)), ("SUCCEEDED", .int(succeeded)), ("FAILED", .int(failed))])))
        }
        var body: [(String, JSONValue)] = [("request_id", .string(requestID)), ("output", .object(output))]
        if status == .succeeded { body.append(("usage", .object([("image_count", .int(1))]))) }
        return ok(.object(body))
    }

    // MARK: - List

    private func list(_ request: Request) async throws -> Response {
        try await simulateLatency()
        if let refusal = authorize(request) { return refusal }
        if let refusal = try await admitQuery(.list) { return refusal }
        switch sim.settings.listErrorStatus {
        case 429: return error(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
        case 500: return error(500, "InternalError", "An internal error has occured, please try again later or contact service support.")
        case 503: return error(503, "ModelServingError", "Too many requests. Your requests are being throttled due to system capacity limits.")
        default: break
        }
        let q = request.uri.queryParameters
        let pageNo = q.get("page_no").flatMap { Int($0) } ?? 1
        let pageSize = q.get("page_size").flatMap { Int($0) } ?? 10
        guard pageNo >= 1, (1...100).contains(pageSize) else {
            return error(400, "InvalidParameter", "page_no must be >= 1 and page_size within 1..100")
        }
        let now = SimulatedDashScope.now
        var start: Double?, end: Double?
        if let s = q.get("start_time") {
            guard let v = DashScopeTime.parseFilterTime(String(s)) else { return error(400, "InvalidParameter", "start_time format error") }
            start = v
        }
        if let e = q.get("end_time") {
            guard let v = DashScopeTime.parseFilterTime(String(e)) else { return error(400, "InvalidParameter", "end_time format error") }
            end = v
        }
        switch (start, end) {
        case (nil, nil): end = now; start = now - 86_400
        case (let s?, nil): end = s + 86_400
        case (nil, let e?): start = e - 86_400
        case (let s?, let e?): if e - s > 86_400 { return error(400, "InvalidParameter", "time window must not exceed 24 hours") }
        }
        let statusText = q.get("status").map { String($0) }
        let status = statusText.flatMap(TaskStatus.init(rawValue:))
        if statusText != nil && status == nil {
            return error(400, "InvalidParameter", "status must be one of PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED, UNKNOWN")
        }
        let model = q.get("model_name").map { String($0) }
        let onlyTask = q.get("task_id").map { String($0) }
        // Every simulated task is of this one model: another model's filter matches nothing.
        let matching = model != nil && model != DashScopeClient.model ? [] : sim.listed(status: status).filter { task, _ in
            task.submitAt >= start! && task.submitAt <= end! + 0.999 && (onlyTask == nil || task.taskId == onlyTask)
        }
        let total = matching.count
        let page = matching.dropFirst((pageNo - 1) * pageSize).prefix(pageSize)
        let data: [JSONValue] = page.map { task, taskStatus in
            var item: [(String, JSONValue)] = [
                ("api_key_id", .string("1")), ("caller_parent_id", .string("1")), ("caller_uid", .string("1")),
                ("gmt_create", .int(Int64(task.submitAt * 1000))),
            ]
            if let s = task.startAt, taskStatus != .pending { item.append(("start_time", .int(Int64(s * 1000)))) }
            if taskStatus.isFinal, let e = task.endAt ?? task.canceledAt { item.append(("end_time", .int(Int64(e * 1000)))) }
            item += [
                ("model_name", .string(DashScopeClient.model)), ("region", .string("cn-beijing")),
                ("request_id", .string(Self.requestID())), ("status", .string(taskStatus.rawValue)),
                ("task_id", .string(task.taskId)),
                ("user_api_unique_key", .string("apikey:v1:aigc:image2image:out-painting:image-out-painting")),
            ]
            return .object(item)
        }
        return ok(.object([
            ("request_id", .string(Self.requestID())), ("total", .int(total)),
            ("total_page", .int((total + pageSize - 1) / pageSize)), ("page_no", .int(pageNo)),
            ("page_size", .int(pageSize)), ("data", .array(data)),
        ]))
    }

    // MARK: - Cancel

    private func cancel(_ request: Request, id: String) async throws -> Response {
        try await simulateLatency()
        if let refusal = authorize(request) { return refusal }
        if let refusal = try await admitQuery(.cancel) { return refusal }
        switch sim.cancel(id) {
        case .canceled:
            return ok(.object([("request_id", .string(Self.requestID()))]))
        case .notPending, .unknown:
            // Cancelling an unknown id is UNCONFIRMED in the docs; answered like a non-PENDING task.
            return error(400, "UnsupportedOperation", "Failed to cancel the task, please confirm if the task is in PENDING status.")
        }
    }

    // MARK: - Helpers

    private func authorize(_ request: Request) -> Response? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            return error(401, "InvalidApiKey", "No API-key provided.")
        }
        guard header.dropFirst("Bearer ".count) == apiKey else {
            return error(401, "InvalidApiKey", "Invalid API-key provided.")
        }
        return nil
    }

    private func admitQuery(_ kind: SimulatedDashScope.QueryKind) async throws -> Response? {
        switch sim.admitQuery(kind) {
        case .allowed:
            return nil
        case .throttled:
            return error(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
        case .serverError:
            return error(500, "InternalError", "An internal error has occured, please try again later or contact service support.")
        case .slow(let ms):
            try await Task.sleep(for: .milliseconds(ms))
            return nil
        case .malformed:
            return Response(status: .ok, headers: [.contentType: "text/html"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "<html><body>502 Bad Gateway</body></html>")))
        }
    }

    private func simulateLatency() async throws {
        let ms = sim.settings.latencyMs
        if ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
    }

    static func requestID() -> String { UUID().uuidString.lowercased() }

    private func ok(_ json: JSONValue) -> Response { DevServerResponse.json(200, json) }

    private func error(_ status: Int, _ code: String, _ message: String) -> Response {
        DevServerResponse.json(status, .object([("request_id", .string(Self.requestID())), ("code", .string(code)),
                                                ("message", .string(message))]))
    }
}

/// Test hooks read from the query string of `input.image_url`.
struct SimulationHooks: Equatable {
    var durationMs = 3000
    var outcome: TaskStatus = .succeeded

    init(imageURL: String) {
        guard let query = imageURL.split(separator: "?", maxSplits: 1).dropFirst().first else { return }
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            switch kv[0] {
            case "sim_duration_ms": if let v = Int(kv[1]), v >= 0 { durationMs = v }
            case "sim_outcome": if let v = TaskStatus(rawValue: kv[1]), [.succeeded, .failed, .unknown].contains(v) { outcome = v }
            default: break
            }
        }
    }
}

enum DevServerResponse {
    static func json(_ status: Int, _ json: JSONValue) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: json.serialized)))
    }
}
