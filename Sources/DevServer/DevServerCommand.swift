import ArgumentParser
import Common
import Hummingbird
import Logging

@main
struct DevServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpainting-devserver",
        abstract: "DEV ONLY: stands in for Aliyun DashScope and the host's login endpoint in local runs and tests.",
        discussion: """
            Serves DashScope's image-out-painting create call and task API (query, list, cancel) with real
            shapes, status codes and rate limits (DASHSCOPE.md), the host's GET /api/user/get/login (the
            cookie SESSION=dev-user-<id> logs in user <id> — no password: never expose it), PNG images,
            and /_sim/config, /_sim/stats for tests.

            Environment: DEVSERVER_HOST (127.0.0.1), DEVSERVER_PORT (8089), DEVSERVER_PUBLIC_URL,
            DEVSERVER_API_KEY (sk-local-dev), DEVSERVER_LATENCY_MS (0), DEVSERVER_QUERY_QPS_LIMIT (20),
            DEVSERVER_CREATE_QPS_LIMIT (2), DEVSERVER_MAX_RUNNING (0 = unlimited), DEVSERVER_EVENT_URL (where
            "task finished" events are POSTed; unset = none), MYSQL_* (see README), LOG_LEVEL.
            """)

    func run() async throws {
        let env = EnvironmentReader.process
        let logger = LoggingSetup.bootstrap(label: "outpainting.devserver", environment: env)
        // Its login stand-in logs anyone in as any user: it must never run by accident.
        guard DeploymentProfile.isDev(env) else {
            logger.critical("the DevServer is for the local stack only and starts only with OUTPAINTING_PROFILE=dev")
            throw ExitCode(78)
        }
        let config = try DevServerConfiguration.fromEnvironment(env)
        MySQLConnection.initializeLibrary()
        HTTPClient.initializeLibrary()

        let database = BlockingExecutor<MySQLSession>(name: "devserver-db", threads: 2) {
            MySQLSession(configuration: config.mysql, logger: logger)
        }
        let sim = SimulatedDashScope(settings: config.simulation)
        let router = Router()
        DashScopeRoutes(sim: sim, apiKey: config.apiKey, publicURL: config.publicURL).register(on: router)
        HostRoutes(database: database, sim: sim, logger: logger).register(on: router)
        ImageRoutes().register(on: router)
        ControlRoutes(sim: sim).register(on: router)
        router.get("/healthz") { _, _ in "ok" }

        let events = CompletionEventSender(sim: sim, senders: BlockingExecutor(name: "devserver-events", threads: 1) { HTTPClient() },
                                           token: config.eventToken,
                                           logger: logger)
        let app = Application(router: router, configuration: .init(address: .hostname(config.host, port: config.port),
                                                                    serverName: "outpainting-devserver"),
                              services: [events], logger: logger)
        logger.info("DevServer listening (DEV ONLY: fake DashScope and login)",
                    metadata: ["address": "\(config.host):\(config.port)", "settings": "\(config.simulation.json.serialized)"])
        try await app.runService()
        await database.shutdown()
        logger.info("DevServer stopped")
    }
}
