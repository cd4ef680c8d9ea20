internal import CRDKafka

/// A failure reported by librdkafka.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        public static let configuration = Code(name: "configuration")
        public static let client = Code(name: "client")
        public static let produce = Code(name: "produce")
        public static let delivery = Code(name: "delivery")
        public static let deliveryTimeout = Code(name: "delivery timeout")
        public static let consume = Code(name: "consume")
        public static let commit = Code(name: "commit")
        public static let metadata = Code(name: "metadata")
        public var description: String { name }
    }

    public let code: Code
    /// librdkafka's `rd_kafka_resp_err_t`, or 0 when the error did not come with one.
    public let kafkaErrorCode: Int32
    public let reason: String

    public var description: String { "Kafka \(code) error: \(reason)" }

    init(code: Code, kafkaErrorCode: Int32 = 0, reason: String) {
        self.code = code
        self.kafkaErrorCode = kafkaErrorCode
        self.reason = reason
    }

    init(code: Code, _ err: rd_kafka_resp_err_t) {
        self.init(code: code, kafkaErrorCode: err.rawValue, reason: String(cString: rd_kafka_err2str(err)))
    }
}

/// The librdkafka version loaded at run time, e.g. `"2.8.0"`, and its packed number.
public enum KafkaLibrary {
    public static var versionString: String { String(cString: rd_kafka_version_str()) }
    public static var versionNumber: Int32 { rd_kafka_version() }
    /// 2.1.2: the first release that skips KIP-482 tagged fields correctly.
    public static let minimumVersionNumber: Int32 = 0x0201_02FF
}
