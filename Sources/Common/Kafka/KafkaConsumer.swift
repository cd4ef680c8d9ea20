internal import CRDKafka
import Logging

/// A topic partition.
public struct KafkaTopicPartition: Sendable, Hashable, CustomStringConvertible {
    public let topic: String
    public let partition: Int32
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public var description: String { "\(topic)[\(partition)]" }
}

/// A consumed message, copied out of librdkafka's buffers.
public struct KafkaMessage: Sendable {
    public let topicPartition: KafkaTopicPartition
    public let offset: Int64
    public let key: [UInt8]?
    public let value: [UInt8]
    /// Record headers, values as UTF-8 text.
    public var headers: [(String, String)] = []

    public init(topicPartition: KafkaTopicPartition, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [(String, String)] = []) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// What one poll brought: messages, and per-message errors librdkafka reported on the way.
public struct KafkaPollResult: Sendable {
    public var messages: [KafkaMessage] = []
    public var errors: [KafkaError] = []
}

/// A group consumer with manual offset commits.
///
/// - Important: every method blocks; the consumer belongs to one owned thread for its whole life.
public final class KafkaConsumer {
    private let handle: OpaquePointer
    private let queue: OpaquePointer
    private let logger: Logger
    private var closed = false

    /// - Parameters:
    ///   - properties: librdkafka consumer properties; must include `group.id` and `bootstrap.servers`.
    ///   - topics: topics to subscribe to (none for a handle used only to read committed offsets).
    public init(properties: [String: String], topics: [String], logger: Logger) throws(KafkaError) {
        self.logger = logger
        let conf = try RDKafkaConfig.make(properties)
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .client, reason: RDKafkaConfig.errorString(errorBuffer))
        }
        handle = rk
        // Route the main queue (errors, rebalances, logs) into the consumer queue that poll serves.
        rd_kafka_poll_set_consumer(rk)
        queue = rd_kafka_queue_get_consumer(rk)
        if !topics.isEmpty {
            let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for topic in topics {
                rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
            }
            let err = rd_kafka_subscribe(rk, list)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                rd_kafka_queue_destroy(queue)
                rd_kafka_destroy(rk)
                throw KafkaError(code: .client, err)
            }
        }
    }

    deinit {
        if !closed { close() }
    }

    /// Waits up to `timeout` for up to `maxMessages` messages and returns what arrived (possibly none).
    public func poll(maxMessages: Int, timeout: Duration) -> KafkaPollResult {
        let buffer = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: maxMessages)
        defer { buffer.deallocate() }
        let ms = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let count = rd_kafka_consume_batch_queue(queue, max(ms, 0), buffer, maxMessages)
        var result = KafkaPollResult()
        guard count > 0 else { return result }
        result.messages.reserveCapacity(count)
        for i in 0..<count {
            guard let message = buffer[i] else { continue }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    result.errors.append(KafkaError(code: .consume, m.err))
                }
                continue
            }
            let topic = String(cString: rd_kafka_topic_name(m.rkt))
            let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
            let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
            result.messages.append(KafkaMessage(topicPartition: KafkaTopicPartition(topic: topic, partition: m.partition),
                                                offset: m.offset, key: key, value: value, headers: Self.headers(message)))
        }
        return result
    }

    private static func headers(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> [(String, String)] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var out: [(String, String)] = []
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let name {
                let text = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) } ?? ""
                out.append((String(cString: name), text))
            }
            index += 1
        }
        return out
    }

    /// The partitions currently assigned to this member.
    public func assignment() throws(KafkaError) -> Set<KafkaTopicPartition> {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let err = rd_kafka_assignment(handle, &list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(code: .consume, err) }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        var out = Set<KafkaTopicPartition>()
        for i in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[i]
            out.insert(KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition))
        }
        return out
    }

    /// Stops (`pause`) or restarts fetching from `partitions`; the member stays in its group while
    /// `poll` keeps being called. Pausing drops prefetched messages; they are fetched again after
    /// `resume` from the last consumed position.
    public func setPaused(_ paused: Bool, _ partitions: Set<KafkaTopicPartition>) {
        guard !partitions.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for tp in partitions { rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition) }
        let err = paused ? rd_kafka_pause_partitions(handle, list) : rd_kafka_resume_partitions(handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("cannot \(paused ? "pause" : "resume") partitions", metadata: [LogKey.error: "\(KafkaError(code: .consume, err))"])
        }
    }

    /// Commits, synchronously, `nextOffset` (the offset of the next message to read) per partition.
    public func commit(_ nextOffsets: [KafkaTopicPartition: Int64]) throws(KafkaError) {
        guard !nextOffsets.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(nextOffsets.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (tp, offset) in nextOffsets {
            rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition).pointee.offset = offset
        }
        let err = rd_kafka_commit(handle, list, 0)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: .commit, err) }
        // A partition-level failure is reported inside the list.
        for i in 0..<Int(list.pointee.cnt) where list.pointee.elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(code: .commit, list.pointee.elems[i].err)
        }
    }

    /// The group's committed next offset per partition (nil when nothing was committed).
    public func committed(topic: String, partitions: [Int32], timeout: Duration) throws(KafkaError) -> [Int32: Int64?] {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for p in partitions { rd_kafka_topic_partition_list_add(list, topic, p) }
        let err = rd_kafka_committed(handle, list, Int32(timeout.components.seconds * 1000))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: .commit, err) }
        var out: [Int32: Int64?] = [:]
        for i in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[i]
            out[element.partition] = element.offset >= 0 ? element.offset : nil
        }
        return out
    }

    /// Messages not yet consumed per assigned partition: the last fetched high watermark minus this
    /// member's position (both local: no broker round trip). Partitions without both are left out.
    public func localLag(_ partitions: Set<KafkaTopicPartition>) -> [Int32: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for tp in partitions { rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition) }
        guard rd_kafka_position(handle, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [:] }
        var out: [Int32: Int64] = [:]
        for i in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[i]
            var low: Int64 = -1, high: Int64 = -1
            guard element.offset >= 0,
                  rd_kafka_get_watermark_offsets(handle, element.topic, element.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  high >= 0 else { continue }
            out[element.partition] = max(high - element.offset, 0)
        }
        return out
    }

    /// The broker's low and high watermarks of one partition (a round trip).
    public func watermarks(topic: String, partition: Int32, timeout: Duration) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = -1, high: Int64 = -1
        let err = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, Int32(timeout.milliseconds))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: .metadata, err) }
        return (low, high)
    }

    /// The number of partitions of `topic`, from the broker's metadata.
    public func partitionCount(topic: String, timeout: Duration) throws(KafkaError) -> Int {
        let topicHandle = rd_kafka_topic_new(handle, topic, nil)
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 0, topicHandle, &metadata, Int32(timeout.components.seconds * 1000))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(code: .metadata, err) }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt > 0 else { return 0 }
        let t = metadata.pointee.topics[0]
        guard t.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code: .metadata, t.err) }
        return Int(t.partition_cnt)
    }

    /// Leaves the group (revoking partitions) and frees the client.
    public func close() {
        guard !closed else { return }
        closed = true
        let err = rd_kafka_consumer_close(handle)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka consumer close reported an error", metadata: [LogKey.error: "\(KafkaError(code: .client, err))"])
        }
        rd_kafka_queue_destroy(queue)
        rd_kafka_destroy(handle)
    }
}
