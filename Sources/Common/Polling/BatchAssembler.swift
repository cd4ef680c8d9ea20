/// Turns one consumed batch into work: task messages to claim (de-duplicated by taskId, last one
/// wins), completion hints, poison messages for the dead-letter topic, and the offsets to commit
/// once all of that is durable. Pure.
public struct BatchAssembler {
    public struct Task: Sendable {
        public let partition: Int32
        public let message: OutPaintingTaskMessage
        /// The Kafka record it came from (dead-lettered if its task turns out unknown).
        public let source: KafkaMessage
    }

    public struct Poison: Sendable {
        public let message: KafkaMessage
        public let reason: String
    }

    public struct Batch: Sendable {
        public var tasks: [Task] = []
        public var hints: [String] = []
        public var poison: [Poison] = []
        /// Next offset to read, per partition: the highest offset seen + 1.
        public var nextOffsets: [KafkaTopicPartition: Int64] = [:]
    }

    public static func assemble(_ messages: [KafkaMessage]) -> Batch {
        var batch = Batch()
        var index: [String: Int] = [:]
        for message in messages {
            batch.nextOffsets[message.topicPartition] = max(batch.nextOffsets[message.topicPartition] ?? 0, message.offset + 1)
            let decoded: OutPaintingTaskMessage
            do {
                decoded = try OutPaintingTaskMessage.decode(message.value)
            } catch {
                batch.poison.append(Poison(message: message, reason: "\(error)"))
                continue
            }
            if decoded.isCompletionHint {
                batch.hints.append(decoded.taskId)
                continue
            }
            let task = Task(partition: message.topicPartition.partition, message: decoded, source: message)
            if let i = index[decoded.taskId] {
                batch.tasks[i] = task
            } else {
                index[decoded.taskId] = batch.tasks.count
                batch.tasks.append(task)
            }
        }
        return batch
    }
}
