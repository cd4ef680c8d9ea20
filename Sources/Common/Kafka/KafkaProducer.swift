internal import CRDKafka
import Foundation
import Logging
import Synchronization

/// Where the broker stored a produced message.
public struct KafkaDeliveryReport: Sendable, Equatable {
    public let partition: Int32
    public let offset: Int64
}

/// A producer whose `send` blocks its (owned) caller until the broker acknowledges the message
/// or the deadline passes. Delivery reports are served by a dedicated polling thread.
///
/// - Important: `send` blocks; call it only from threads you own.
public final class KafkaProducer: @unchecked Sendable {
    // @unchecked: `handle` is thread-safe per librdkafka; `topics` is guarded by `lock`.
    private let handle: OpaquePointer
    private let lock = NSLock()
    private var topics: [String: OpaquePointer] = [:]
    private let stopping = Atomic<Bool>(false)
    private let flushMilliseconds = Atomic<Int32>(5000)
    private let undelivered = Atomic<Int32>(0)
    private let pollThread = OwnedThreads(name: "kafka-producer-poll")
    private let logger: Logger

    /// - Parameter properties: librdkafka producer properties (`bootstrap.servers`, `acks`, …).
    public init(properties: [String: String], logger: Logger) throws(KafkaError) {
        self.logger = logger
        let conf = try RDKafkaConfig.make(properties)
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
            guard let message, let opaque = message.pointee._private else { return }
            let waiter = Unmanaged<DeliveryWaiter>.fromOpaque(opaque).takeRetainedValue()
            let m = message.pointee
            if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                waiter.complete(.success(KafkaDeliveryReport(partition: m.partition, offset: m.offset)))
            } else {
                waiter.complete(.failure(KafkaError(code: .delivery, m.err)))
            }
        }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .client, reason: RDKafkaConfig.errorString(errorBuffer))
        }
        handle = rk
        pollThread.start(count: 1) { [self] _ in
            while !self.stopping.load(ordering: .acquiring) {
                rd_kafka_poll(self.handle, 100)
            }
            rd_kafka_flush(self.handle, self.flushMilliseconds.load(ordering: .relaxed))
            self.undelivered.store(rd_kafka_outq_len(self.handle), ordering: .releasing)
        }
    }

    private func topic(_ name: String) -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        if let existing = topics[name] { return existing }
        let created = rd_kafka_topic_new(handle, name, nil)!
        topics[name] = created
        return created
    }

    /// Produces one message and waits for the broker's acknowledgement.
    ///
    /// - Throws: `KafkaError` with code `.produce` (refused locally, e.g. queue full), `.delivery`
    ///   (the broker or librdkafka reported failure) or `.deliveryTimeout` (no report in time; the
    ///   message may still be delivered later).
    public func send(topic name: String, key: String, value: [UInt8], timeout: Duration) throws(KafkaError) -> KafkaDeliveryReport {
        let waiter = DeliveryWaiter()
        let opaque = Unmanaged.passRetained(waiter).toOpaque()
        let topicHandle = topic(name)
        let keyBytes = Array(key.utf8)
        let rc = value.withUnsafeBytes { payload in
            keyBytes.withUnsafeBytes { keyPointer in
                rd_kafka_produce(topicHandle, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                 UnsafeMutableRawPointer(mutating: payload.baseAddress), payload.count,
                                 keyPointer.baseAddress, keyPointer.count, opaque)
            }
        }
        if rc != 0 {
            Unmanaged<DeliveryWaiter>.fromOpaque(opaque).release()
            throw KafkaError(code: .produce, rd_kafka_last_error())
        }
        guard let result = waiter.wait(timeout: timeout) else {
            throw KafkaError(code: .deliveryTimeout, reason: "no delivery report within \(timeout)")
        }
        return try result.get()
    }

    /// Waits (on the polling thread) for outstanding messages, then stops it and frees the client.
    public func close(flushTimeout: Duration = .seconds(5)) async {
        flushMilliseconds.store(Int32(flushTimeout.components.seconds * 1000), ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        await pollThread.join()
        let remaining = undelivered.load(ordering: .acquiring)
        if remaining > 0 {
            logger.warning("Kafka producer closed with undelivered messages", metadata: ["count": "\(remaining)"])
        }
        lock.withLock {
            topics.values.forEach { rd_kafka_topic_destroy($0) }
            topics = [:]
        }
        rd_kafka_destroy(handle)
    }
}

/// Carries one message's delivery report from the polling thread to the thread that sent it.
private final class DeliveryWaiter: @unchecked Sendable {
    // @unchecked: `result` is only touched under `condition`.
    private let condition = NSCondition()
    private var result: Result<KafkaDeliveryReport, KafkaError>?

    func complete(_ result: Result<KafkaDeliveryReport, KafkaError>) {
        condition.lock()
        self.result = result
        condition.broadcast()
        condition.unlock()
    }

    func wait(timeout: Duration) -> Result<KafkaDeliveryReport, KafkaError>? {
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds)
                                                 + Double(timeout.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while result == nil {
            if !condition.wait(until: deadline) { break }
        }
        return result
    }
}
