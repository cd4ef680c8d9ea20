import ArgumentParser
import Common
import Logging
import ServiceLifecycle
import Synchronization

@main
struct ResponderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpainting-fcgi",
        abstract: "FastCGI responder for /api/picture/out_painting/{create_task,get_task} behind the host's nginx.",
        discussion: """
            Configured by environment variables (README, "Configuration"): FCGI_LISTEN (127.0.0.1:9000, a unix
            socket path, or fd:0 for an inherited socket), FCGI_WORKERS (16), FCGI_MAX_BODY_BYTES, LOGIN_URL,
            LOGIN_MODE (cookie | trusted-param), LOGIN_TIMEOUT_MS, LOGIN_CACHE_TTL_MS, LOGIN_CACHE_SIZE,
            LIVE_CHECK_INTERVAL_MS, FINAL_TASK_CACHE_SIZE, FINAL_TASK_CACHE_TTL_S, CREATE_MAX_CONCURRENT, CREATE_THROTTLE_BUDGET_MS, CREATE_DUPLICATE_WINDOW_S, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_ACK_TIMEOUT_MS,
            KAFKA_PRODUCER_<PROPERTY>, DASHSCOPE_BASE_URL, DASHSCOPE_API_KEY, DASHSCOPE_*_TIMEOUT_MS, MYSQL_*, LOG_LEVEL.
            Stops gracefully on SIGTERM/SIGINT: finishes in-flight requests, flushes Kafka.
            """)

    func run() async throws {
        let env = EnvironmentReader.process
        let logger = LoggingSetup.bootstrap(label: "outpainting.fcgi", environment: env)
        let config = try ResponderConfiguration.fromEnvironment(env)
        let metrics = MetricsSetup.bootstrap()
        try NativeLibraries.initialize()

        let producer = try KafkaProducer(properties: config.kafkaProducer, logger: logger)
        let server = try FastCGIServer<ResponderWorker>(address: config.listen, logger: logger)
        let responder = OutPaintingResponder(
            configuration: config,
            login: LoginVerifier(LoginVerifier.Settings(
                url: config.loginURL, timeout: config.loginTimeout, ttl: config.loginCacheTTL, refusalTTL: config.loginRefusalTTL,
                capacity: config.loginCacheSize, sessionCookies: config.loginSessionCookies, maxConcurrentCalls: config.loginMaxConcurrent)),
            producer: producer, createSlots: ConcurrencyLimit(limit: config.createConcurrency), userCreates: KeyedConcurrencyLimit(),
            metrics: metrics,
            finalTasks: SharedExpiringCache(capacity: config.finalTaskCacheSize, ttl: config.finalTaskCacheTTL),
            sweep: SweepFreshness(staleAfter: config.sweepStaleAfter, quotaKey: config.quotaKey), logger: logger)
        let service = ResponderService(server: server, producer: producer, config: config, responder: responder, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}

/// Runs the FastCGI workers until a graceful shutdown, then drains them and flushes Kafka.
struct ResponderService: Service {
    let server: FastCGIServer<ResponderWorker>
    let producer: KafkaProducer
    let config: ResponderConfiguration
    let responder: OutPaintingResponder
    let logger: Logger

    func run() async throws {
        let config = self.config, logger = self.logger, responder = self.responder
        server.start(workers: config.workers, running: config.runningWorkers, maxBodyBytes: config.maxBodyBytes,
                     makeResources: { ResponderWorker(configuration: config, logger: logger) },
                     handler: { request, worker in responder.handle(request, worker: worker) })
        logger.info("FastCGI responder started", metadata: [
            "listen": "\(config.listen)", "workers": "\(config.workers)", "running.max": "\(config.runningWorkers)",
            "mysql": "\(config.mysql.endpointDescription)", "dashscope": "\(config.dashScope.baseURL)",
            "kafka.topic": "\(config.kafkaTopic)", "login.mode": "\(config.loginMode.rawValue)",
        ])
        try? await gracefulShutdown()
        logger.info("shutting down: finishing in-flight requests")
        await server.shutdown()
        await producer.close()
        logger.info("FastCGI responder stopped")
    }
}
