import Common
import Foundation
import Logging
import Synchronization

/// Routes the two endpoints FcgiApp takes over and turns every outcome into the host's envelope.
/// Errors are mapped to envelope codes here and only here; anything unexpected is 50000 and logged,
/// never echoed.
struct OutPaintingResponder: Sendable {
    static let createPath = "/api/picture/out_painting/create_task"
    static let getPath = "/api/picture/out_painting/get_task"

    let configuration: ResponderConfiguration
    let login: LoginVerifier
    let producer: KafkaProducer
    let createSlots: ConcurrencyLimit
    /// Each user's creates in flight in this process: one user's burst must not take the create
    /// slots (and the account's queue) from the others.
    let userCreates: KeyedConcurrencyLimit<Int64>
    let metrics: PrometheusRegistryView
    let finalTasks: SharedExpiringCache<TaskRecord>
    let sweep: SweepFreshness
    let logger: Logger

    /// Where FcgiApp's Prometheus metrics are served (nginx allows it from localhost only).
    static let metricsPath = "/outpainting/metrics"
    /// Readiness through nginx (localhost only): 200 once this worker reaches MySQL.
    static let healthPath = "/outpainting/healthz"

    func handle(_ request: FastCGIRequest, worker: ResponderWorker) -> FastCGIResponse {
        if request.path == Self.metricsPath {
            return FastCGIResponse(headers: [("Content-Type", PrometheusRegistryView.contentType)], body: metrics.render())
        }
        if request.path == Self.healthPath { return health(worker: worker) }
        let started = ContinuousClock.now
        let (response, endpoint, code) = respond(request, worker: worker)
        OutpaintingMetrics.responderRequest(endpoint: endpoint, code: code, duration: ContinuousClock.now - started)
        return response
    }

    /// The response, the endpoint's metric label and the envelope code.
    private func respond(_ request: FastCGIRequest, worker: ResponderWorker) -> (FastCGIResponse, String, Int) {
        var logger = self.logger
        logger[metadataKey: LogKey.requestID] = "\(request.params["REQUEST_ID"] ?? "-")"
        func failure(_ error: BusinessError, status: Int = 200, _ endpoint: String) -> (FastCGIResponse, String, Int) {
            (.json(Envelope.failure(error), status: status), endpoint, error.code.rawValue)
        }
        if !configuration.hintPath.isEmpty && request.path == configuration.hintPath {
            guard request.method == "POST" else { return failure(BusinessError(.paramsError, "请求方法不支持"), status: 405, "hint") }
            let response = CompletionHintHandler(configuration: configuration, producer: producer, logger: logger).handle(request, worker: worker)
            return (response, "hint", response.status == 200 ? 0 : response.status)
        }
        // get_task by POST too: several forks of the host's frontend send `POST …/get_task?taskId=…`.
        let endpoint: (methods: [String], label: String)
        switch request.path {
        case Self.createPath: endpoint = (["POST"], "create_task")
        case Self.getPath: endpoint = (["GET", "POST"], "get_task")
        default: return failure(BusinessError(.notFound, "接口不存在"), status: 404, "other")
        }
        guard endpoint.methods.contains(request.method) else {
            var refused = failure(BusinessError(.paramsError, "请求方法不支持"), status: 405, endpoint.label)
            refused.0.headers.append(("Allow", endpoint.methods.joined(separator: ", ")))
            return refused
        }
        if endpoint.label == "create_task" && !CreateTaskRequest.isJSON(contentType: request.contentType) {
            return failure(CreateTaskRequest.notJSON, status: 415, endpoint.label)
        }
        do {
            let user = try identify(request, worker: worker, logger: logger)
            logger[metadataKey: LogKey.userID] = "\(user.id)"
            let data = endpoint.label == "create_task"
                ? try create(request, user: user, worker: worker, logger: logger)
                : try GetTaskHandler(configuration: configuration, finalTasks: finalTasks, sweep: sweep, logger: logger).handle(request, user: user, worker: worker)
            return (.json(Envelope.success(data)), endpoint.label, 0)
        } catch let error as BusinessError {
            if error.code.rawValue >= 50000 {
                logger.warning("request failed", metadata: ["code": "\(error.code.rawValue)", LogKey.endpoint: "\(request.path)"])
            }
            return failure(error, endpoint.label)
        } catch {
            logger.error("unexpected error", metadata: [LogKey.endpoint: "\(request.path)", LogKey.error: "\(error)"])
            return failure(BusinessError(.systemError), endpoint.label)
        }
    }

    /// Ready means a request can be served: nginx reached this worker and the worker reaches MySQL
    /// (every endpoint needs it). The error is MySQLError's redacted description.
    private func health(worker: ResponderWorker) -> FastCGIResponse {
        do {
            _ = try worker.database.read { try $0.query("SELECT 1") }
            return .json(#"{"status":"ok"}"#)
        } catch {
            return .json(JSONValue.object([("status", .string("unavailable")), ("mysql", .string("\(error)"))]).serialized,
                         status: 503)
        }
    }

    private func create(_ request: FastCGIRequest, user: LoginUser, worker: ResponderWorker, logger: Logger) throws -> JSONValue {
        let limits = configuration.userLimits
        guard limits.inProgress > 0 else { return try createInSlot(request, user: user, worker: worker, logger: logger) }
        guard let data = try userCreates.ifAvailable(user.id, limit: limits.inProgress, {
            try createInSlot(request, user: user, worker: worker, logger: logger)
        }) else {
            OutpaintingMetrics.createRefused(limits.inProgressRefusal.reason)
            throw BusinessError(.operationError, limits.inProgressRefusal.message)
        }
        return data
    }

    private func createInSlot(_ request: FastCGIRequest, user: LoginUser, worker: ResponderWorker, logger: Logger) throws -> JSONValue {
        let handler = CreateTaskHandler(configuration: configuration, producer: producer, logger: logger)
        guard let data = try createSlots.ifAvailable({ try handler.handle(request, user: user, worker: worker) }) else {
            logger.warning("create_task refused: all create slots are waiting on DashScope",
                           metadata: ["create.slots": "\(createSlots.limit)"])
            throw BusinessError(.operationError, "AI 扩图服务繁忙，请稍后重试")
        }
        return data
    }

    private func identify(_ request: FastCGIRequest, worker: ResponderWorker, logger: Logger) throws(BusinessError) -> LoginUser {
        switch configuration.loginMode {
        case .cookie:
            return try login.user(cookie: request.cookie, http: worker.loginHTTP, logger: logger)
        case .trustedParam:
            guard let user = TrustedIdentity.user(params: request.params, secret: configuration.trustedParamSecret) else {
                throw BusinessError(.notLogin)
            }
            return user
        }
    }
}
