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
    // @unchecked: `handle` is thread-safe per librdkafka; the rest is atomics.
    private let handle: OpaquePointer
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

    /// Produces one message and waits for the broker's acknowledgement.
    ///
    /// - Parameter headers: Kafka record headers (e.g. a dead-letter reason).
    /// - Throws: `KafkaError` with code `.produce` (refused locally, e.g. queue full), `.delivery`
    ///   (the broker or librdkafka reported failure) or `.deliveryTimeout` (no report in time; the
    ///   message may still be delivered later).
    /// - Parameter partition: a fixed partition; nil lets the partitioner hash the key.
    public func send(topic: String, key: String, value: [UInt8], headers: [(String, String)] = [],
                     partition: Int32? = nil, timeout: Duration) throws(KafkaError) -> KafkaDeliveryReport {
        let waiter = DeliveryWaiter()
        let opaque = Unmanaged.passRetained(waiter).toOpaque()
        if let error = produce(topic: topic, key: Array(key.utf8), value: value, headers: headers, partition: partition,
                               opaque: opaque) {
            Unmanaged<DeliveryWaiter>.fromOpaque(opaque).release()
            throw error
        }
        guard let result = waiter.wait(timeout: timeout) else {
            throw KafkaError(code: .deliveryTimeout, reason: "no delivery report within \(timeout)")
        }
        return try result.get()
    }

    /// Enqueues with `rd_kafka_produceva` (the non-variadic form of producev, which Swift cannot
    /// call); every buffer is copied by librdkafka before it returns.
    private func produce(topic: String, key: [UInt8], value: [UInt8], headers: [(String, String)], partition: Int32?,
                         opaque: UnsafeMutableRawPointer) -> KafkaError? {
        // C strings for the topic and header names/values, alive until produceva returns.
        var cStrings: [UnsafeMutablePointer<CChar>] = []
        defer { cStrings.forEach { free($0) } }
        func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
            let p = strdup(s)!
            cStrings.append(p)
            return p
        }
        return key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                var vus: [rd_kafka_vu_t] = []
                var v = rd_kafka_vu_t()
                v.vtype = RD_KAFKA_VTYPE_TOPIC; v.u.cstr = UnsafePointer(cString(topic)); vus.append(v)
                v = rd_kafka_vu_t()
                v.vtype = RD_KAFKA_VTYPE_KEY
                v.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress); v.u.mem.size = keyBytes.count
                vus.append(v)
                v = rd_kafka_vu_t()
                v.vtype = RD_KAFKA_VTYPE_VALUE
                v.u.mem.ptr = UnsafeMutableRawPointer(mutating: valueBytes.baseAddress); v.u.mem.size = valueBytes.count
                vus.append(v)
                v = rd_kafka_vu_t()
                v.vtype = RD_KAFKA_VTYPE_MSGFLAGS; v.u.i = RD_KAFKA_MSG_F_COPY; vus.append(v)
                v = rd_kafka_vu_t()
                v.vtype = RD_KAFKA_VTYPE_OPAQUE; v.u.ptr = opaque; vus.append(v)
                if let partition {
                    v = rd_kafka_vu_t()
                    v.vtype = RD_KAFKA_VTYPE_PARTITION; v.u.i32 = partition; vus.append(v)
                }
                for (name, headerValue) in headers {
                    let valuePointer = cString(headerValue)
                    v = rd_kafka_vu_t()
                    v.vtype = RD_KAFKA_VTYPE_HEADER
                    v.u.header.name = UnsafePointer(cString(name))
                    v.u.header.val = UnsafeRawPointer(valuePointer)
                    v.u.header.size = strlen(valuePointer)
                    vus.append(v)
                }
                guard let error = rd_kafka_produceva(handle, vus, vus.count) else { return nil }
                defer { rd_kafka_error_destroy(error) }
                return KafkaError(code: .produce, kafkaErrorCode: rd_kafka_error_code(error).rawValue,
                                  reason: String(cString: rd_kafka_error_string(error)))
            }
        }
    }

    /// Waits (on the polling thread) for outstanding messages, then stops it and frees the client.
    public func close(flushTimeout: Duration = .seconds(5)) async {
        flushMilliseconds.store(Int32(flushTimeout.components.seconds * 1000), ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        await pollThread.join()
        destroy()
    }

    /// `close` for a thread the caller owns and may block (command-line tools).
    public func closeBlocking(flushTimeout: Duration = .seconds(5)) {
        flushMilliseconds.store(Int32(flushTimeout.components.seconds * 1000), ordering: .relaxed)
        stopping.store(true, ordering: .releasing)
        pollThread.joinBlocking()
        destroy()
    }

    private func destroy() {
        let remaining = undelivered.load(ordering: .acquiring)
        if remaining > 0 {
            logger.warning("Kafka producer closed with undelivered messages", metadata: ["count": "\(remaining)"])
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
