import ArgumentParser
import Common
import Foundation
import Logging
import ServiceLifecycle

/// BASELINE — the original design's two endpoints behind the same nginx snippet and libfcgi:
/// create_task submits once (no 429 retry, no duplicate window), stores, sends the message;
/// get_task reads the row and, if the task is not final, queries DashScope live and updates the
/// row — on every call.
struct BaselineResponderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "baseline-responder",
                                                    abstract: "Serve create_task/get_task the original way (baseline).")

    @Option(help: "FastCGI socket path.")
    var listen = ".run/baseline.sock"

    @Option(help: "Topic of the baseline's messages.")
    var topic = "outpainting-task-baseline"

    @Option(help: "Worker threads (as ours).")
    var workers = 16

    @Flag(inversion: .prefixedNo, help: "get_task queries DashScope live while the task is not final (the original); off for the SDK site, whose backend waits with the SDK.")
    var liveCheck = true

    func run() async throws {
        let env = EnvironmentReader.process
        let logger = LoggingSetup.bootstrap(label: "outpainting.baseline.responder", environment: env)
        try NativeLibraries.initialize()
        let mysql = try MySQLConfiguration.fromEnvironment(env)
        let dashScope = try DashScopeConfiguration.fromEnvironment(env)
        guard let address = FastCGIListenAddress.parse(listen, unixMode: 0o660) else { throw ValidationError("bad --listen") }
        let producer = try KafkaProducer(properties: ["bootstrap.servers": env.string("KAFKA_BOOTSTRAP_SERVERS", default: "127.0.0.1:19092"),
                                                      "acks": "1"], logger: logger)
        // Login exactly as ours (cookie → the host's endpoint, 5 s cache): only the task design differs.
        let login = LoginVerifier(LoginVerifier.Settings(url: env.string("LOGIN_URL", default: "http://127.0.0.1:8089/api/user/get/login"),
                                                         timeout: .seconds(2), ttl: .seconds(5), capacity: 10_000))
        let server = try FastCGIServer<BaselineWorker>(address: address, logger: logger)
        let topic = self.topic, liveCheck = self.liveCheck
        server.start(workers: workers, maxBodyBytes: 64 * 1024,
                     makeResources: { BaselineWorker(mysql: mysql, dashScope: dashScope, logger: logger) },
                     handler: { request, worker in
                         BaselineEndpoints(login: login, producer: producer, topic: topic, liveCheck: liveCheck, logger: logger).handle(request, worker: worker)
                     })
        logger.info("baseline responder started", metadata: ["listen": "\(listen)"])
        try? await gracefulShutdown()
        await server.shutdown()
        await producer.close()
    }
}

final class BaselineWorker {
    let database: MySQLSession
    let dashScope: DashScopeClient
    let http = HTTPClient()

    init(mysql: MySQLConfiguration, dashScope: DashScopeConfiguration, logger: Logger) {
        database = MySQLSession(configuration: mysql, logger: logger)
        self.dashScope = DashScopeClient(configuration: dashScope)
    }
}

struct BaselineEndpoints {
    let login: LoginVerifier
    let producer: KafkaProducer
    let topic: String
    let liveCheck: Bool
    let logger: Logger

    func handle(_ request: FastCGIRequest, worker: BaselineWorker) -> FastCGIResponse {
        do {
            let user = try login.user(cookie: request.cookie, http: worker.http, logger: logger)
            switch request.path {
            case "/api/picture/out_painting/create_task": return .json(Envelope.success(try create(request, user: user, worker: worker)))
            case "/api/picture/out_painting/get_task": return .json(Envelope.success(try get(request, user: user, worker: worker)))
            default: return .json(Envelope.failure(BusinessError(.notFound)), status: 404)
            }
        } catch let error as BusinessError {
            return .json(Envelope.failure(error))
        } catch {
            return .json(Envelope.failure(BusinessError(.systemError)))
        }
    }

    private func create(_ request: FastCGIRequest, user: LoginUser, worker: BaselineWorker) throws -> JSONValue {
        let parsed = try CreateTaskRequest.parse(body: request.body, bodyTooLarge: request.bodyTooLarge)
        let facts = try worker.database.read { try HostRepository.pictureFacts($0, pictureID: parsed.pictureID, userID: user.id) }
        if let refusal = EditPermission.businessError(for: EditPermission.decide(user: user, picture: facts)) { throw refusal }
        let created: DashScopeCreatedTask
        do {
            created = try worker.dashScope.create(imageURL: facts!.url, parameters: parsed.parameters)
        } catch {
            throw BusinessError(.operationError, "AI 扩图任务创建失败")
        }
        try worker.database.with {
            try TaskRepository.insert($0, taskId: created.taskId, pictureId: parsed.pictureID, userId: user.id,
                                      status: created.status, requestId: created.requestId, parameters: parsed.parameters)
        }
        let message = OutPaintingTaskMessage(taskId: created.taskId, pictureId: parsed.pictureID, userId: user.id,
                                             createTime: Int64(Date().timeIntervalSince1970 * 1000))
        _ = try? producer.send(topic: topic, key: created.taskId, value: message.encoded, timeout: .seconds(5))
        return .object([
            ("output", .object([("taskId", .string(created.taskId)), ("taskStatus", .string(created.status.rawValue))])),
            ("code", .null), ("message", .null), ("requestId", .string(created.requestId)),
        ])
    }

    private func get(_ request: FastCGIRequest, user: LoginUser, worker: BaselineWorker) throws -> JSONValue {
        let taskId = try GetTaskRequest.taskID(fromQuery: request.queryString)
        guard var record = try worker.database.read({ try TaskRepository.find($0, taskId: taskId) }) else {
            throw BusinessError(.notFound, "任务不存在")
        }
        guard record.userId == user.id || user.isAdmin else { throw BusinessError(.noAuth) }
        if liveCheck, !record.status.isFinal, let view = try? worker.dashScope.task(taskId) {
            record = try worker.database.with { connection in
                try TaskRepository.applyObservation(connection, view, nextCheckInMilliseconds: nil)
                return try TaskRepository.find(connection, taskId: taskId) ?? record
            }
        }
        return record.hostJSON(requestId: UUID().uuidString.lowercased())
    }
}
