import ArgumentParser
import Common
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

@main
struct PollerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpainting-poller",
        abstract: "Follows out-painting tasks: consumes Kafka in batches, checks DashScope in rounds, stores outcomes in MySQL.",
        subcommands: [Run.self, Migrate.self],
        defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the poller (default).",
            discussion: """
                Configured by environment variables (README, "Configuration"): KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC,
                KAFKA_GROUP_ID, KAFKA_CONSUMER_<PROPERTY>, KAFKA_PRODUCER_<PROPERTY>, KAFKA_ACK_TIMEOUT_MS,
                POLLER_BATCH_MAX, POLLER_BATCH_WAIT_MS, POLLER_QUERY_CONCURRENCY, POLLER_ROUND_MAX,
                POLLER_FIRST_CHECK_MS, POLLER_BACKOFF_INITIAL_MS, POLLER_BACKOFF_MULTIPLIER, POLLER_BACKOFF_CAP_MS,
                POLLER_BACKOFF_JITTER, POLLER_TASK_DEADLINE_S, POLLER_RECONCILE_INTERVAL_S, POLLER_ORPHAN_UNCLAIMED_S,
                POLLER_ORPHAN_STALE_S, POLLER_LIST_QUERIES, POLLER_SHUTDOWN_TIMEOUT_S, POLLER_REJOIN_WITHOUT_ASSIGNMENT_S,
                KAFKA_DLT_TOPIC, POLLER_METRICS_ADDRESS (127.0.0.1:9400; /metrics and /healthz; empty = off),
                DASHSCOPE_QUERY_QPS, DASHSCOPE_*, MYSQL_*, LOG_LEVEL. Stops gracefully on SIGTERM/SIGINT.
                """)

        func run() async throws {
            let env = EnvironmentReader.process
            let logger = LoggingSetup.bootstrap(label: "outpainting.poller", environment: env)
            let config = try PollerConfiguration.fromEnvironment(env)
            let metrics = MetricsSetup.bootstrap()
            try NativeLibraries.initialize()
            let statistics = PollerStatistics()
            var services: [any Service] = [PollerService(config: config, statistics: statistics, logger: logger)]
            if let address = config.metricsAddress {
                services.append(PollerHTTPEndpoints.application(address: address, metrics: metrics, statistics: statistics,
                                                                logger: logger))
            }
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                          logger: logger))
            try await group.run()
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply sql/migrations to the database in MYSQL_* (idempotent) and report what ran.")

        @Option(help: "Folder of V<n>__<name>.sql files.")
        var directory = "sql/migrations"

        func run() async throws {
            let env = EnvironmentReader.process
            let logger = LoggingSetup.bootstrap(label: "outpainting.migrate", environment: env)
            let mysql = try MySQLConfiguration.fromEnvironment(env)
            MySQLConnection.initializeLibrary()
            let directory = self.directory
            // One short-lived owned thread: MySQL calls block.
            let applied: [String] = try await BlockingExecutor<Void>(name: "migrate", threads: 1) {}.run { _ in
                let connection = try MySQLConnection(mysql)
                return try SchemaMigrator(directory: directory, logger: logger).migrate(connection)
            }
            print(applied.isEmpty ? "schema up to date" : "applied: \(applied.joined(separator: ", "))")
        }
    }
}

/// Starts the engine and the sweeper, each on its own thread, and stops them on graceful shutdown.
struct PollerService: Service {
    let config: PollerConfiguration
    let statistics: PollerStatistics
    let logger: Logger

    func run() async throws {
        let config = self.config, logger = self.logger, statistics = self.statistics
        let producer = try KafkaProducer(properties: config.producer, logger: logger)
        let queries = BlockingExecutor<DashScopeClient>(name: "dashscope-query", threads: config.queryConcurrency) {
            DashScopeClient(configuration: config.dashScope)
        }
        let stop = StopFlag()
        let engineThread = OwnedThreads(name: "poller-engine")
        let startup = StartupResult()
        engineThread.start(count: 1) { _ in
            do {
                let engine = try PollerEngine(
                    config: config,
                    makeConsumer: { try KafkaConsumer(properties: config.consumer, topics: [config.topic], logger: logger) },
                    producer: producer, queries: queries,
                    database: MySQLSession(configuration: config.mysql, logger: logger), statistics: statistics, logger: logger)
                engine.run(stop: stop.flag)
            } catch {
                startup.failure.withLock { $0 = "\(error)" }
                logger.critical("poller engine could not start", metadata: [LogKey.error: "\(error)"])
            }
        }
        // The account's one sweeper runs in whichever instance holds its lease (POLLER_LIST_QUERIES=false: never this one).
        let sweeperStop = StopSignal()
        let sweeperThread = OwnedThreads(name: "poller-sweeper")
        if config.listQueries {
            sweeperThread.start(count: 1) { _ in
                SweeperLoop(config: config, queries: queries, database: MySQLSession(configuration: config.mysql, logger: logger),
                            statistics: statistics, logger: logger).run(stop: sweeperStop)
            }
        }
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { try? await gracefulShutdown(); return false }
            group.addTask { await engineThread.join(); return false }
            _ = await group.next()
            stop.flag.store(true, ordering: .releasing)
            sweeperStop.stop()
            group.cancelAll()
            // Both threads finish their step and stop; a step stuck beyond its timeouts must not hold
            // the stop forever.
            group.addTask { await engineThread.join(); await sweeperThread.join(); return true }
            group.addTask {
                try? await Task.sleep(for: config.shutdownTimeout)
                if !Task.isCancelled {
                    logger.critical("graceful stop took longer than POLLER_SHUTDOWN_TIMEOUT_S; exiting",
                                    metadata: ["timeout": "\(config.shutdownTimeout)"])
                    exit(1)
                }
                return false
            }
            while let joined = await group.next(), !joined {}
            group.cancelAll()
        }
        await queries.shutdown()
        await producer.close()
        if let failure = startup.failure.withLock({ $0 }) { throw PollerStartupError(description: failure) }
        logger.info("poller stopped")
    }
}

final class StopFlag: Sendable {
    let flag = Atomic<Bool>(false)
}

final class StartupResult: Sendable {
    let failure = Mutex<String?>(nil)
}

struct PollerStartupError: Error, CustomStringConvertible {
    let description: String
}
