import ArgumentParser
import Common
import Foundation
import Logging

/// BASELINE — the original design's consumer (seed document): `concurrency: 5` listener threads,
/// `ack-mode: manual_immediate`. Each thread takes ONE message, queries DashScope for that task
/// (blocking HTTP), updates the row, and if the task still runs sleeps its exponential back-off on
/// the listener thread, re-sends the message with retryCount + 1, then acknowledges.
struct BaselineConsumerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "baseline-consumer",
                                                    abstract: "Run the original design's Kafka consumer (baseline).")

    @Option(help: "Topic of the baseline's messages.")
    var topic = "outpainting-task-baseline"

    @Option(help: "Consumer group.")
    var group = "outpainting-baseline"

    @Option(help: "Listener threads (the original: 5).")
    var concurrency = 5

    @Option(help: "First back-off in ms, doubled per retry (the original sleeps 2^retryCount s).")
    var backoffInitialMs = 1000

    @Option(help: "Longest back-off in ms.")
    var backoffCapMs = 60_000

    func run() throws {
        let env = EnvironmentReader.process
        let logger = LoggingSetup.bootstrap(label: "outpainting.baseline.consumer", environment: env)
        try NativeLibraries.initialize()
        let mysql = try MySQLConfiguration.fromEnvironment(env)
        let dashScope = try DashScopeConfiguration.fromEnvironment(env)
        let bootstrap = env.string("KAFKA_BOOTSTRAP_SERVERS", default: "127.0.0.1:19092")
        let producer = try KafkaProducer(properties: ["bootstrap.servers": bootstrap, "acks": "1", "linger.ms": "0"], logger: logger)
        let consumerProperties = [
            "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": "false", "auto.offset.reset": "earliest",
            // Java's defaults, except a shorter session so that the test broker forms the group quickly.
            "session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "max.poll.interval.ms": "300000",
        ]
        let (topic, initial, cap) = (self.topic, backoffInitialMs, backoffCapMs)
        let threads = OwnedThreads(name: "baseline-listener")
        threads.start(count: concurrency) { index in
            do {
                let listener = BaselineListener(
                    consumer: try KafkaConsumer(properties: consumerProperties, topics: [topic], logger: logger),
                    producer: producer, client: DashScopeClient(configuration: dashScope),
                    database: MySQLSession(configuration: mysql, logger: logger), topic: topic,
                    backoffInitialMs: initial, backoffCapMs: cap, logger: logger)
                listener.run()
            } catch {
                logger.critical("baseline listener \(index) could not start", metadata: [LogKey.error: "\(error)"])
            }
        }
        threads.joinBlocking()
    }
}

/// One listener thread of the baseline: strictly one message at a time.
final class BaselineListener {
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let client: DashScopeClient
    let database: MySQLSession
    let topic: String
    let backoffInitialMs: Int
    let backoffCapMs: Int
    let logger: Logger

    init(consumer: KafkaConsumer, producer: KafkaProducer, client: DashScopeClient, database: MySQLSession, topic: String,
         backoffInitialMs: Int, backoffCapMs: Int, logger: Logger) {
        (self.consumer, self.producer, self.client, self.database, self.topic) = (consumer, producer, client, database, topic)
        (self.backoffInitialMs, self.backoffCapMs, self.logger) = (backoffInitialMs, backoffCapMs, logger)
    }

    func run() {
        while true {
            for message in consumer.poll(maxMessages: 1, timeout: .seconds(1)).messages {
                handle(message)
                // manual_immediate: acknowledge this one message now.
                try? consumer.commit([message.topicPartition: message.offset + 1])
            }
        }
    }

    private func handle(_ message: KafkaMessage) {
        guard let task = try? OutPaintingTaskMessage.decode(message.value) else { return }
        let view: DashScopeTaskView
        do {
            view = try client.task(task.taskId)
        } catch {
            logger.warning("baseline: query failed", metadata: [LogKey.taskID: "\(task.taskId)", LogKey.error: "\(error)"])
            return resend(task)
        }
        _ = try? database.with { try TaskRepository.applyObservation($0, view, nextCheckInMilliseconds: nil) }
        if !view.status.isFinal { resend(task) }
    }

    /// Sleeps the back-off on this listener thread (the original's design), then re-sends.
    private func resend(_ task: OutPaintingTaskMessage) {
        let delay = min(backoffCapMs, backoffInitialMs << min(task.retryCount, 20))
        Thread.sleep(forTimeInterval: Double(delay) / 1000)
        var next = task
        next.retryCount += 1
        _ = try? producer.send(topic: topic, key: task.taskId, value: next.encoded, timeout: .seconds(5))
    }
}
