import ArgumentParser
import Common
import Foundation
import Logging

/// Creates tasks the way create_task leaves them — accepted by the DevServer's DashScope, a row in
/// `out_painting_task`, a message on a topic — without going through nginx (W1, W5 setup).
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Create N tasks directly (DashScope + row + message).")

    @Option(help: "How many tasks.") var count: Int
    @Option(help: "Topic for the messages.") var topic = "outpainting-task"
    @Option(help: "Shortest simulated duration (ms).") var minDurationMs = 1000
    @Option(help: "Longest simulated duration (ms).") var maxDurationMs = 5000
    @Option(help: "Threads.") var threads = 16
    @Option(help: "Owner user id written on the rows.") var userId: Int64 = 1

    func run() throws {
        let env = EnvironmentReader.process
        let logger = LoggingSetup.bootstrap(label: "outpainting.bench.seed", environment: env)
        try NativeLibraries.initialize()
        let mysql = try MySQLConfiguration.fromEnvironment(env)
        let dashScope = try DashScopeConfiguration.fromEnvironment(env)
        let devServer = env.string("DEVSERVER_PUBLIC_URL", default: "http://127.0.0.1:8089")
        let producer = try KafkaProducer(properties: ["bootstrap.servers": env.string("KAFKA_BOOTSTRAP_SERVERS", default: "127.0.0.1:19092"),
                                                      "linger.ms": "2", "partitioner": "murmur2_random"], logger: logger)
        let (count, topic, low, high, userId) = (self.count, self.topic, minDurationMs, maxDurationMs, self.userId)
        let next = Counter(), failures = Counter()
        let started = Date()
        let pool = OwnedThreads(name: "seed")
        pool.start(count: threads) { _ in
            let client = DashScopeClient(configuration: dashScope)
            let database = MySQLSession(configuration: mysql, logger: logger)
            while true {
                let i = next.increment()
                guard i < count else { return }
                do {
                    let url = "\(devServer)/images/bench.png?sim_duration_ms=\(Int.random(in: low...high))"
                    let created = try client.create(imageURL: url, parameters: OutPaintingParameters())
                    try database.with {
                        try TaskRepository.insert($0, taskId: created.taskId, pictureId: 1, userId: userId, status: created.status,
                                                  requestId: created.requestId, parameters: OutPaintingParameters())
                    }
                    let message = OutPaintingTaskMessage(taskId: created.taskId, pictureId: 1, userId: userId,
                                                         createTime: Int64(Date().timeIntervalSince1970 * 1000))
                    _ = try producer.send(topic: topic, key: created.taskId, value: message.encoded, timeout: .seconds(10))
                } catch {
                    if failures.increment() < 5 { logger.error("seed failed", metadata: [LogKey.error: "\(error)"]) }
                }
            }
        }
        pool.joinBlocking()
        producer.closeBlocking()
        print(#"{"seeded":\#(count - failures.value),"failures":\#(failures.value),"seconds":\#(String(format: "%.1f", Date().timeIntervalSince(started)))}"#)
    }
}

/// A shared counter for the seeding threads.
final class Counter: Sendable {
    private let state = NSLockedInt()
    /// Returns the value before incrementing.
    func increment() -> Int { state.add(1) }
    var value: Int { state.get() }
}

final class NSLockedInt: @unchecked Sendable {
    // @unchecked: `value` is touched only under `lock`.
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) -> Int { lock.withLock { defer { value += n }; return value } }
    func get() -> Int { lock.withLock { value } }
}
