internal import CRDKafka

/// Builds an `rd_kafka_conf_t` from string properties, failing on the first one librdkafka refuses.
enum RDKafkaConfig {
    static func make(_ properties: [String: String]) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorBuffer = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let rc = rd_kafka_conf_set(conf, key, value, &errorBuffer, errorBuffer.count)
            if rc != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                // The value is not echoed: a property may hold a credential (sasl.password).
                throw KafkaError(code: .configuration, reason: "property \(key): \(reason)")
            }
        }
        return conf
    }

    static func errorString(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
