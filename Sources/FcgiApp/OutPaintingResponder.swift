import Common
import Foundation
import Logging

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
    let logger: Logger

    func handle(_ request: FastCGIRequest, worker: ResponderWorker) -> FastCGIResponse {
        var logger = self.logger
        logger[metadataKey: LogKey.requestID] = "\(request.params["REQUEST_ID"] ?? "-")"
        if !configuration.hintPath.isEmpty && request.path == configuration.hintPath {
            guard request.method == "POST" else { return .json(Envelope.failure(BusinessError(.paramsError, "请求方法不支持")), status: 405) }
            return CompletionHintHandler(configuration: configuration, producer: producer, logger: logger).handle(request, worker: worker)
        }
        let endpoint: (String, Bool)
        switch request.path {
        case Self.createPath: endpoint = ("POST", true)
        case Self.getPath: endpoint = ("GET", false)
        default:
            return .json(Envelope.failure(BusinessError(.notFound, "接口不存在")), status: 404)
        }
        guard request.method == endpoint.0 else {
            var response = FastCGIResponse.json(Envelope.failure(BusinessError(.paramsError, "请求方法不支持")), status: 405)
            response.headers.append(("Allow", endpoint.0))
            return response
        }
        do {
            let user = try identify(request, worker: worker, logger: logger)
            logger[metadataKey: LogKey.userID] = "\(user.id)"
            let data = endpoint.1
                ? try create(request, user: user, worker: worker, logger: logger)
                : try GetTaskHandler(configuration: configuration, logger: logger).handle(request, user: user, worker: worker)
            return .json(Envelope.success(data))
        } catch let error as BusinessError {
            if error.code.rawValue >= 50000 {
                logger.warning("request failed", metadata: ["code": "\(error.code.rawValue)", LogKey.endpoint: "\(request.path)"])
            }
            return .json(Envelope.failure(error))
        } catch {
            logger.error("unexpected error", metadata: [LogKey.endpoint: "\(request.path)", LogKey.error: "\(error)"])
            return .json(Envelope.failure(BusinessError(.systemError)))
        }
    }

    private func create(_ request: FastCGIRequest, user: LoginUser, worker: ResponderWorker, logger: Logger) throws -> JSONValue {
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
            guard let user = TrustedIdentity.user(params: request.params) else { throw BusinessError(.notLogin) }
            return user
        }
    }
}
