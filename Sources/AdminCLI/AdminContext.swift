import ArgumentParser
import Common
import Foundation
import Logging

/// What the commands share: configuration from the environment, connections made on demand (on
/// the main thread, which the CLI owns: every call here blocks), and output helpers.
struct AdminContext {
    let env = EnvironmentReader.process
    let logger: Logger

    init() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        logger = Logger(label: "outpainting.admin")
        MySQLConnection.initializeLibrary()
        HTTPClient.initializeLibrary()
    }

    var topic: String { env.string("KAFKA_TOPIC", default: "outpainting-task") }
    var deadLetterTopic: String { env.string("KAFKA_DLT_TOPIC", default: "\(topic)-dlt") }
    var groupID: String { env.string("KAFKA_GROUP_ID", default: "outpainting-poller") }
    var bootstrapServers: String { env.string("KAFKA_BOOTSTRAP_SERVERS", default: DeploymentProfile.devDefault(env, "127.0.0.1:19092")) }

    func mysql() throws -> MySQLConnection {
        try DeploymentProfile.check(env, for: .admin)
        let configuration = try MySQLConfiguration.fromEnvironment(env)
        do {
            return try MySQLConnection(configuration)
        } catch {
            throw AdminFailure.unreachable("MySQL at \(configuration.endpointDescription): \(error)")
        }
    }

    func dashScope() throws -> DashScopeClient { DashScopeClient(configuration: try DashScopeConfiguration.fromEnvironment(env)) }

    func producer() throws -> KafkaProducer {
        do {
            return try KafkaProducer(properties: [
                "bootstrap.servers": bootstrapServers, "client.id": "outpainting-admin", "acks": "all",
                "partitioner": "murmur2_random", "allow.auto.create.topics": "false", "message.timeout.ms": "10000",
            ].merging(env.passthrough(prefix: "KAFKA_PRODUCER_")) { _, fromOperator in fromOperator }, logger: logger)
        } catch {
            throw AdminFailure.unreachable("Kafka at \(bootstrapServers): \(error)")
        }
    }

    /// A consumer of `groupID` (nil: a throwaway group), subscribed to `topics`.
    func consumer(groupID: String?, topics: [String]) throws -> KafkaConsumer {
        do {
            return try KafkaConsumer(properties: [
                "bootstrap.servers": bootstrapServers, "client.id": "outpainting-admin",
                "group.id": groupID ?? "outpainting-admin-\(UUID().uuidString.lowercased())",
                "enable.auto.commit": "false", "auto.offset.reset": "earliest",
            ].merging(env.passthrough(prefix: "KAFKA_CONSUMER_")) { _, fromOperator in fromOperator }, topics: topics, logger: logger)
        } catch {
            throw AdminFailure.unreachable("Kafka at \(bootstrapServers): \(error)")
        }
    }

    /// Prints a JSON document or text lines.
    static func emit(json: Bool, _ document: JSONValue, text: () -> [String]) {
        if json {
            print(document.serialized)
        } else {
            text().forEach { print($0) }
        }
    }

    /// Parses `10m`, `2h`, `30s`, `1d` (or plain seconds).
    static func seconds(_ text: String) -> Int? {
        guard let unit = text.last else { return nil }
        let multiplier: Int? = switch unit {
        case "s": 1
        case "m": 60
        case "h": 3600
        case "d": 86_400
        default: nil
        }
        guard let multiplier else { return Int(text).flatMap { $0 >= 0 ? $0 : nil } }
        guard let value = Int(text.dropLast()), value >= 0, value <= Int.max / multiplier else { return nil }
        return value * multiplier
    }
}

/// Failures that end a command with a message and a meaningful exit code.
enum AdminFailure: Error, CustomStringConvertible {
    case notFound(String)
    case unreachable(String)

    var description: String {
        switch self {
        case .notFound(let what): "not found: \(what)"
        case .unreachable(let what): "cannot reach \(what)"
        }
    }

    var exitCode: ExitCode {
        switch self {
        case .notFound: AdminExit.notFound
        case .unreachable: AdminExit.unreachable
        }
    }
}

extension ParsableCommand {
    /// Runs `body`, turning AdminFailure into its message on stderr and its exit code.
    func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as AdminFailure {
            FileHandle.standardError.write(Data("outpainting: \(failure)\n".utf8))
            throw failure.exitCode
        } catch let invalid as EnvironmentReader.InvalidValue {
            FileHandle.standardError.write(Data("outpainting: \(invalid)\n".utf8))
            throw ExitCode.validationFailure
        }
    }
}

extension TaskRepository.AdminView {
    var json: JSONValue {
        let r = record
        return .object([
            ("taskId", .string(r.taskId)), ("status", .string(r.status.rawValue)),
            ("pictureId", .int(r.pictureId)), ("userId", .int(r.userId)),
            ("createTime", .optionalString(createTime)), ("ageSeconds", .int(r.ageSeconds)),
            ("checks", .int(Int64(r.retryCount))),
            ("lastCheckTime", .optionalString(lastCheckTime)), ("nextCheckTime", .optionalString(nextCheckTime)),
            ("pollerPartition", r.pollerPartition.map { .int(Int64($0)) } ?? .null),
            ("kafkaPartition", r.kafkaPartition.map { .int(Int64($0)) } ?? .null),
            ("kafkaOffset", r.kafkaOffset.map { .int($0) } ?? .null),
            ("submitTime", .optionalString(r.submitTime)), ("endTime", .optionalString(r.endTime)),
            ("outputImageUrl", .optionalString(r.outputImageUrl)),
            ("errorCode", .optionalString(r.errorCode)), ("errorMessage", .optionalString(r.errorMessage)),
        ])
    }

    /// Who follows the task, in words.
    var follower: String {
        switch record.pollerPartition {
        case nil: "nobody yet (a reconciler adopts it after POLLER_ORPHAN_UNCLAIMED_S)"
        case -1: "a reconciler (adopted)"
        case let p?: "the consumer of partition \(p)"
        }
    }
}
