import ArgumentParser
import Common

/// `outpainting lag`: how far the Poller group is behind, per partition.
struct LagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lag", abstract: "Consumer-group lag of the Pollers per partition.")

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reporting {
            let context = AdminContext()
            let consumer = try context.consumer(groupID: context.groupID, topics: [])
            defer { consumer.close() }
            let rows: [(partition: Int32, committed: Int64?, high: Int64)]
            do {
                let count = try consumer.partitionCount(topic: context.topic, timeout: .seconds(5))
                guard count > 0 else { throw AdminFailure.notFound("topic \(context.topic)") }
                let partitions = (0..<Int32(count)).map { $0 }
                let committed = try consumer.committed(topic: context.topic, partitions: partitions, timeout: .seconds(5))
                rows = try partitions.map { p in
                    (p, committed[p] ?? nil, try consumer.watermarks(topic: context.topic, partition: p, timeout: .seconds(5)).high)
                }
            } catch let error as KafkaError {
                throw AdminFailure.unreachable("Kafka at \(context.bootstrapServers): \(error)")
            }
            // Nothing committed yet: the whole partition is behind (its low watermark is 0 on a new topic).
            let lags = rows.map { max($0.high - ($0.committed ?? 0), 0) }
            AdminContext.emit(json: output.json, .object([
                ("group", .string(context.groupID)), ("topic", .string(context.topic)), ("total", .int(lags.reduce(0, +))),
                ("partitions", .array(zip(rows, lags).map { row, lag in
                    .object([("partition", .int(Int64(row.partition))), ("committed", row.committed.map { .int($0) } ?? .null),
                             ("high", .int(row.high)), ("lag", .int(lag))])
                })),
            ])) {
                ["group \(context.groupID), topic \(context.topic)", "PARTITION  COMMITTED  HIGH       LAG"]
                    + zip(rows, lags).map { row, lag in
                        "\(String(row.partition).padding(10)) \((row.committed.map(String.init) ?? "-").padding(10)) \(String(row.high).padding(10)) \(lag)"
                    } + ["total lag \(lags.reduce(0, +))"]
            }
        }
    }
}
