import ArgumentParser
import Common
import Foundation

/// `outpainting dlt list|replay`: the dead-letter topic the Poller sends unfollowable messages to.
struct DeadLetterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlt", abstract: "Inspect or replay the dead-letter topic.", subcommands: [List.self, Replay.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show dead-lettered messages with their reason (nothing is consumed for good).")

        @Option(help: "At most this many messages.")
        var limit = 100

        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                let context = AdminContext()
                let consumer = try context.consumer(groupID: nil, topics: [context.deadLetterTopic])
                defer { consumer.close() }
                let messages = try DeadLetterReader.readAvailable(consumer, limit: limit)
                AdminContext.emit(json: output.json, .array(messages.map(DeadLetterReader.json))) {
                    messages.map { m in
                        let h = Dictionary(m.headers, uniquingKeysWith: { a, _ in a })
                        return "[\(m.topicPartition.partition):\(m.offset)] key=\(m.key.map { String(decoding: $0, as: UTF8.self) } ?? "-") "
                            + "reason=\(h["dlt.reason"] ?? "?") from=\(h["dlt.original.topic"] ?? "?")[\(h["dlt.original.partition"] ?? "?")]@\(h["dlt.original.offset"] ?? "?")\n"
                            + "    \(String(decoding: m.value.prefix(300), as: UTF8.self))"
                    } + ["\(messages.count) message(s) in \(context.deadLetterTopic)"]
                }
            }
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead-lettered messages back to the task topic (after fixing their cause).",
            discussion: "Progress is kept by the consumer group --group: a message is replayed once, however often this runs.")

        @Option(help: "Consumer group that remembers what was replayed.")
        var group = "outpainting-dlt-replay"

        @Option(help: "At most this many messages.")
        var limit = 1000

        @OptionGroup var output: OutputOptions

        func run() throws {
            try reporting {
                let context = AdminContext()
                let consumer = try context.consumer(groupID: group, topics: [context.deadLetterTopic])
                defer { consumer.close() }
                let messages = try DeadLetterReader.readAvailable(consumer, limit: limit)
                let producer = try context.producer()
                defer { producer.closeBlocking() }
                var next: [KafkaTopicPartition: Int64] = [:]
                for m in messages {
                    let key = m.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
                    do {
                        _ = try producer.send(topic: context.topic, key: key, value: m.value, timeout: .seconds(10))
                    } catch {
                        try? consumer.commit(next)
                        throw AdminFailure.unreachable("Kafka (replayed \(next.count > 0 ? "some" : "none") before: \(error))")
                    }
                    next[m.topicPartition] = m.offset + 1
                }
                try consumer.commit(next)
                AdminContext.emit(json: output.json, .object([
                    ("replayed", .int(Int64(messages.count))), ("topic", .string(context.topic)),
                    ("messages", .array(messages.map { .object([("partition", .int(Int64($0.topicPartition.partition))),
                                                                 ("offset", .int($0.offset))]) })),
                ])) {
                    ["replayed \(messages.count) message(s) to \(context.topic)"]
                }
            }
        }
    }
}

enum DeadLetterReader {
    /// Everything available now: waits for the group's assignment, then reads until nothing new
    /// arrives for a moment or `limit` is reached.
    static func readAvailable(_ consumer: KafkaConsumer, limit: Int) throws -> [KafkaMessage] {
        let deadline = ContinuousClock.now + .seconds(30)
        var messages: [KafkaMessage] = []
        var quietSince: ContinuousClock.Instant?
        while messages.count < limit, ContinuousClock.now < deadline {
            let polled = consumer.poll(maxMessages: limit - messages.count, timeout: .milliseconds(200))
            messages += polled.messages
            let assigned = !(try consumer.assignment()).isEmpty
            if !polled.messages.isEmpty || !assigned {
                quietSince = nil
            } else if let since = quietSince {
                if ContinuousClock.now - since > .milliseconds(1500) { break }
            } else {
                quietSince = .now
            }
        }
        return messages
    }

    static func json(_ m: KafkaMessage) -> JSONValue {
        .object([
            ("partition", .int(Int64(m.topicPartition.partition))), ("offset", .int(m.offset)),
            ("key", .optionalString(m.key.map { String(decoding: $0, as: UTF8.self) })),
            ("headers", .object(m.headers.map { ($0.0, .string($0.1)) })),
            ("value", .string(String(decoding: m.value, as: UTF8.self))),
        ])
    }
}
