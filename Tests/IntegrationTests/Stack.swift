import Foundation
import Logging
import Testing
@testable import Common

/// The running local stack (`scripts/stack.sh up`), reached at addresses from the environment with
/// the local defaults. Integration tests run only when `OUTPAINTING_INTEGRATION=1` (make test sets it).
enum Stack {
    static let env = EnvironmentReader.process
    static let enabled = env.raw("OUTPAINTING_INTEGRATION") == "1"
    static let nginx = "http://\(env.string("NGINX_HOST", default: "127.0.0.1")):\(env.string("NGINX_PORT", default: "8080"))"
    static let devServer = "http://\(env.string("DEVSERVER_HOST", default: "127.0.0.1")):\(env.string("DEVSERVER_PORT", default: "8089"))"
    static let kafka = env.string("KAFKA_BOOTSTRAP_SERVERS", default: "127.0.0.1:19092")
    static let topic = env.string("KAFKA_TOPIC", default: "outpainting-task")
    static let group = env.string("KAFKA_GROUP_ID", default: "outpainting-poller")
    static let mysql = (try? MySQLConfiguration.fromEnvironment(env)) ?? MySQLConfiguration()
    static let logger = Logger(label: "integration-tests")

    static let initialized: Bool = {
        MySQLConnection.initializeLibrary()
        HTTPClient.initializeLibrary()
        return true
    }()

    // MARK: - HTTP

    struct Reply {
        let status: Int
        let json: JSONValue?
        var code: Int64? { json?["code"]?.int64Value }
        var data: JSONValue? { json?["data"] }
    }

    static func request(_ method: String, _ path: String, cookie: String? = nil, body: String? = nil,
                        headers: [(String, String)] = []) throws -> Reply {
        _ = initialized
        var allHeaders = headers
        if let cookie { allHeaders.append(("Cookie", cookie)) }
        if body != nil { allHeaders.append(("Content-Type", "application/json")) }
        let response = try HTTPClient().send(HTTPRequest(method: method, url: nginx + path, headers: allHeaders,
                                                         body: body.map { Array($0.utf8) }, timeout: .seconds(30)))
        return Reply(status: response.status, json: try? JSONParser().parse(response.body))
    }

    static func create(cookie: String?, body: String, headers: [(String, String)] = []) throws -> Reply {
        try request("POST", "/api/picture/out_painting/create_task", cookie: cookie, body: body, headers: headers)
    }

    static func getTask(_ taskId: String, cookie: String?) throws -> Reply {
        try request("GET", "/api/picture/out_painting/get_task?taskId=\(taskId)", cookie: cookie)
    }

    static func devServerStats() throws -> JSONValue {
        _ = initialized
        let response = try HTTPClient().send(HTTPRequest(url: devServer + "/_sim/stats", timeout: .seconds(5)))
        return try JSONParser().parse(response.body)
    }

    // MARK: - MySQL

    static func withDatabase<T>(_ body: (MySQLConnection) throws -> T) throws -> T {
        _ = initialized
        return try body(try MySQLConnection(mysql))
    }

    /// Fresh ids for one test's rows, far from the demo data.
    static func freshID() -> Int64 { Int64.random(in: 10_000_000...9_000_000_000_000) }

    struct Fixture {
        let owner: Int64, stranger: Int64, admin: Int64
        let picture: Int64
        var ownerCookie: String { "SESSION=dev-user-\(owner)" }
        var strangerCookie: String { "SESSION=dev-user-\(stranger)" }
        var adminCookie: String { "SESSION=dev-user-\(admin)" }
    }

    /// Three users and a public picture whose URL carries the DevServer's simulation hooks.
    static func fixture(durationMs: Int = 1500, outcome: String = "SUCCEEDED") throws -> Fixture {
        let f = Fixture(owner: freshID(), stranger: freshID(), admin: freshID(), picture: freshID())
        try withDatabase { db in
            for (id, role) in [(f.owner, "user"), (f.stranger, "user"), (f.admin, "admin")] {
                try db.execute("INSERT INTO user (id, userAccount, userName, userRole) VALUES (?, ?, ?, ?)",
                               [.int(id), .string("it-\(id)"), .string("it user"), .string(role)])
            }
            try db.execute("INSERT INTO picture (id, url, name, userId) VALUES (?, ?, 'it', ?)", [
                .int(f.picture), .string("\(devServer)/images/it-\(f.picture).png?sim_duration_ms=\(durationMs)&sim_outcome=\(outcome)"),
                .int(f.owner)])
        }
        return f
    }

    static func row(_ taskId: String) throws -> TaskRecord? {
        try withDatabase { try TaskRepository.find($0, taskId: taskId) }
    }

    // MARK: - Kafka

    static func committedOffset(partition: Int32) throws -> Int64? {
        let consumer = try KafkaConsumer(properties: ["bootstrap.servers": kafka, "group.id": group], topics: [], logger: logger)
        defer { consumer.close() }
        return try consumer.committed(topic: topic, partitions: [partition], timeout: .seconds(5))[partition] ?? nil
    }

    // MARK: - Waiting

    /// Polls `condition` until it returns a value or `timeout` passes (then records a failure).
    static func eventually<T>(timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(250),
                              _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                              _ condition: () throws -> T?) throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try condition() { return value }
            Thread.sleep(forTimeInterval: Double(interval.milliseconds) / 1000)
        }
        Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
        return nil
    }
}
