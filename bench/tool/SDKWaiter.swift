import ArgumentParser
import Common
import Foundation
import Logging

/// REFERENCE — a host backend that follows each task with the DashScope SDK's wait loop
/// (DASHSCOPE.md §6: a GET at once, then sleeps of 1, 1, 2, 2, 2, 4, 4, 4, 5, 5, … s, no quota
/// awareness), one thread per task, storing every answer in the row; get_task then reads the row
/// (`baseline-responder --no-live-check`). It consumes the baseline responder's messages, so it
/// runs on the same queue as every other system (5 running at DashScope, the rest PENDING).
/// The SDK ends its wait on a 429; here the loop sleeps its interval and asks again instead, or
/// the task would never finish.
struct SDKWaiterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sdk-waiter",
                                                    abstract: "Follow every task with the DashScope SDK's wait schedule (reference).")

    @Option(help: "Topic of the baseline responder's messages.") var topic = "outpainting-task-baseline"
    @Option(help: "Consumer group.") var group = "outpainting-sdk-waiter"
    @Option(help: "Divide every sleep of the SDK's schedule by this (the benchmark's time scale).") var timeScale = 1.0

    /// The SDK's sleeps between polls: 1 s, doubled every third poll, capped at 5 s.
    static func sleeps() -> AnySequence<Double> {
        AnySequence(sequence(state: (interval: 1.0, count: 0)) { state -> Double? in
            let current = state.interval
            state.count += 1
            if state.count % 3 == 0 { state.interval = min(state.interval * 2, 5) }
            return current
        })
    }

    func run() throws {
        let env = EnvironmentReader.process
        let logger = LoggingSetup.bootstrap(label: "outpainting.bench.sdk", environment: env)
        try NativeLibraries.initialize()
        let mysql = try MySQLConfiguration.fromEnvironment(env)
        let dashScope = try DashScopeConfiguration.fromEnvironment(env)
        let consumer = try KafkaConsumer(properties: [
            "bootstrap.servers": env.string("KAFKA_BOOTSTRAP_SERVERS", default: "127.0.0.1:19092"), "group.id": group,
            "enable.auto.commit": "true", "auto.offset.reset": "earliest", "session.timeout.ms": "6000", "heartbeat.interval.ms": "500",
        ], topics: [topic], logger: logger)
        let scale = timeScale
        while true {
            for message in consumer.poll(maxMessages: 100, timeout: .seconds(1)).messages {
                guard let task = try? OutPaintingTaskMessage.decode(message.value) else { continue }
                let waiter = Thread {
                    let client = DashScopeClient(configuration: dashScope)
                    let database = MySQLSession(configuration: mysql, logger: logger)
                    let sleeps = Self.sleeps().makeIterator()
                    while true {
                        if let view = try? client.task(task.taskId) {
                            _ = try? database.with { try TaskRepository.applyObservation($0, view, nextCheckInMilliseconds: nil) }
                            if view.status.isFinal { return }
                        }
                        Thread.sleep(forTimeInterval: (sleeps.next() ?? 5) / scale)
                    }
                }
                waiter.stackSize = 256 << 10
                waiter.start()
            }
        }
    }
}
