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
    /// nginx's second server: the same endpoints in trusted-param login mode (auth_request).
    static let nginxTrusted = "http://\(env.string("NGINX_HOST", default: "127.0.0.1")):\(env.string("NGINX_TRUSTED_PORT", default: "8081"))"
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
                        headers: [(String, String)] = [], via base: String = nginx) throws -> Reply {
        _ = initialized
        var allHeaders = headers
        if let cookie { allHeaders.append(("Cookie", cookie)) }
        if body != nil && !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            allHeaders.append(("Content-Type", "application/json"))
        }
        let response = try HTTPClient().send(HTTPRequest(method: method, url: base + path, headers: allHeaders,
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

    @discardableResult
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

    /// Waits until the Poller group consumes every partition: a probe (a completion hint for no
    /// task, which the Poller ignores) is sent to each, and each partition's committed offset must
    /// pass it. After crash tests this proves no partition is left to a dead member.
    static func waitGroupConsumesAllPartitions(timeout: Duration = .seconds(60),
                                               sourceLocation: SourceLocation = #_sourceLocation) async throws {
        _ = initialized
        let producer = try KafkaProducer(properties: ["bootstrap.servers": kafka], logger: logger)
        var probes: [Int32: Int64] = [:]
        for partition in Int32(0)..<Int32((try? env.int("KAFKA_TOPIC_PARTITIONS", default: 4)) ?? 4) {
            let probe = OutPaintingTaskMessage(taskId: "probe-\(freshID())", pictureId: 0, userId: 0, createTime: 0,
                                               isCompletionHint: true)
            probes[partition] = try producer.send(topic: topic, key: probe.taskId, value: probe.encoded, partition: partition,
                                                  timeout: .seconds(5)).offset
        }
        _ = eventually(timeout: timeout, "the Poller group to consume every partition", sourceLocation: sourceLocation) { () -> Bool? in
            for (partition, offset) in probes {
                guard let committed = try committedOffset(partition: partition), committed > offset else { return nil }
            }
            return true
        }
        await producer.close()
    }

    static func committedOffset(partition: Int32) throws -> Int64? {
        let consumer = try KafkaConsumer(properties: ["bootstrap.servers": kafka, "group.id": group], topics: [], logger: logger)
        defer { consumer.close() }
        return try consumer.committed(topic: topic, partitions: [partition], timeout: .seconds(5))[partition] ?? nil
    }

    // MARK: - Waiting

    /// Polls `condition` until it returns a value or `timeout` passes; then records a failure that
    /// names what was awaited and the last error seen. An error thrown by `condition` (a refused
    /// connection, a 502, MySQL restarting) means "not yet", never the end of the wait.
    static func eventually<T>(timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(250),
                              _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                              _ condition: () throws -> T?) -> T? {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while true {
            do {
                if let value = try condition() { return value }
            } catch {
                lastError = error
            }
            guard ContinuousClock.now < deadline else { break }
            // The poll interval of this wait (the one place tests wait for a condition), not a wait itself.
            Thread.sleep(forTimeInterval: Double(interval.milliseconds) / 1000)
        }
        let last = lastError.map { "; last error: \(String(describing: $0))" } ?? "; the condition never held"
        Issue.record("timed out after \(timeout) waiting for \(what)\(last)", sourceLocation: sourceLocation)
        return nil
    }
}

// MARK: - Processes of the stack and fault injection

extension Stack {
    static let runDir = env.string("RUN_DIR", default: FileManager.default.currentDirectoryPath + "/.run")

    static func pid(_ component: String) -> Int32? {
        (try? String(contentsOfFile: "\(runDir)/\(component).pid", encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

    /// Sends `signal` to a component; its supervisor restarts it. Returns the pid signalled.
    @discardableResult
    static func signal(_ component: String, _ signal: Int32) throws -> Int32 {
        let target = try #require(Self.pid(component), "no pid file for \(component)")
        kill(target, signal)
        return target
    }

    /// The supervisor's longest restart back-off (scripts/supervise.sh).
    static let restartBackoffMax: Duration = .seconds(30)

    /// Waits until the supervisor has restarted `component` (a new live pid, within the longest
    /// back-off) and the new process is ready (its probe, within its own deadline).
    static func waitBack(_ component: Component, oldPid: Int32, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let restarted = eventually(timeout: restartBackoffMax + .seconds(10), "\(component.rawValue) to be restarted",
                                   sourceLocation: sourceLocation) { () -> Int32? in
            guard let now = pid(component.rawValue), now != oldPid, isAlive(now) else { return nil }
            return now
        }
        _ = try #require(restarted, "\(component.rawValue) was not restarted", sourceLocation: sourceLocation)
        try Readiness.shared.require([component])
    }

    /// Waits until nginx → FcgiApp answers (a restarted FcgiApp's socket can be missing for a
    /// moment, and nginx answers 502 meanwhile).
    static func waitAnswering() throws {
        try Readiness.shared.require([.nginx, .fcgi])
    }

    /// Changes the DevServer's simulation; returns the previous settings to restore.
    @discardableResult
    static func simConfig(_ settings: String) throws -> String {
        _ = initialized
        let client = HTTPClient()
        let before = try client.send(HTTPRequest(url: devServer + "/_sim/config", timeout: .seconds(5))).bodyText
        let response = try client.send(HTTPRequest(method: "POST", url: devServer + "/_sim/config",
                                                   headers: [("Content-Type", "application/json")],
                                                   body: Array(settings.utf8), timeout: .seconds(5)))
        #expect(response.status == 200, "\(response.bodyText)")
        return before
    }

    /// A task created through nginx, with the outcome its picture's hooks ask the DevServer for.
    struct Created {
        let taskId: String
        let expected: TaskStatus
    }

    /// Creates `count` tasks through nginx, each by its own user on its own picture (one user may
    /// start only a few a minute), with a duration drawn from `durations` and every `failEvery`-th
    /// one FAILED. Lifts the DevServer's submission limit meanwhile (setup speed is not what these
    /// tests measure).
    static func createTasks(_ count: Int, durations: ClosedRange<Int>, failEvery: Int = 4) throws -> [Created] {
        try waitAnswering()
        let restore = try simConfig(#"{"create_qps_limit":0}"#)
        let limit = Int((try? JSONParser.parse(restore))?["create_qps_limit"]?.int64Value ?? 2)
        try setSubmissionPace(0)
        defer {
            _ = try? simConfig(#"{"create_qps_limit":\#(limit)}"#)
            _ = try? setSubmissionPace(Double(limit))
        }
        var created: [Created] = []
        try withDatabase { db in
            for i in 0..<count {
                let outcome: TaskStatus = failEvery > 0 && i % failEvery == failEvery - 1 ? .failed : .succeeded
                let picture = freshID(), owner = freshID()
                try db.execute("INSERT INTO user (id, userAccount, userName, userRole) VALUES (?, ?, 'it user', 'user')",
                               [.int(owner), .string("it-\(owner)")])
                try db.execute("INSERT INTO picture (id, url, name, userId) VALUES (?, ?, 'chaos', ?)", [
                    .int(picture),
                    .string("\(devServer)/images/c.png?sim_duration_ms=\(Int.random(in: durations))&sim_outcome=\(outcome.rawValue)"),
                    .int(owner)])
                let reply = try create(cookie: "SESSION=dev-user-\(owner)", body: #"{"pictureId":\#(picture)}"#)
                let id = try #require(reply.data?["output"]?["taskId"]?.stringValue, "create #\(i): \(String(describing: reply.json))")
                created.append(Created(taskId: id, expected: outcome))
            }
        }
        return created
    }

    /// Sets the account's submission pace for every FcgiApp (the row is authoritative; 0 = none).
    static func setSubmissionPace(_ perSecond: Double) throws {
        let key = QuotaRepository.quotaKey(apiKey: env.string("DASHSCOPE_API_KEY", default: "sk-local-dev"))
        try withDatabase { db in
            try db.execute("""
                INSERT INTO outpainting_submission_pace (paceKey, submissionsPerSecond, nextSlotAt) VALUES (?, ?, NOW(6))
                ON DUPLICATE KEY UPDATE submissionsPerSecond = VALUES(submissionsPerSecond)
                """, [.string(key), .double(perSecond)])
        }
    }

    /// Final statuses of `tasks`, once all are final (nil on timeout, recorded as a failure).
    static func waitAllFinal(_ tasks: [Created], timeout: Duration) throws -> [String: TaskStatus]? {
        eventually(timeout: timeout, every: .milliseconds(500), "\(tasks.count) tasks to be final") { () -> [String: TaskStatus]? in
            let statuses = try statuses(tasks.map(\.taskId))
            return statuses.count == tasks.count && statuses.values.allSatisfy(\.isFinal) ? statuses : nil
        }
    }

    /// Waits until a Poller has checked at least one of `tasks` at DashScope (so a fault injected
    /// next lands while the work is under way, not before it began).
    static func waitUnderWay(_ tasks: [Created], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let marks = Array(repeating: "?", count: tasks.count).joined(separator: ",")
        let checked = eventually(timeout: .seconds(30), "a Poller to check one of \(tasks.count) tasks",
                                 sourceLocation: sourceLocation) { () -> Bool? in
            try withDatabase { db in
                try db.query("SELECT COUNT(*) AS n FROM out_painting_task WHERE retryCount > 0 AND taskId IN (\(marks))",
                             tasks.map { .string($0.taskId) }).first?.int64("n") ?? 0
            } > 0 ? true : nil
        }
        _ = try #require(checked as Bool?, sourceLocation: sourceLocation)
    }

    /// How many partitions the Poller answering /healthz at `url` owns.
    static func pollerPartitions(_ url: String) throws -> Int64? {
        try pollerHealth(url)["partitions"]?.int64Value
    }

    static func statuses(_ ids: [String]) throws -> [String: TaskStatus] {
        guard !ids.isEmpty else { return [:] }
        return try withDatabase { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
            var out: [String: TaskStatus] = [:]
            for row in try db.query("SELECT taskId, taskStatus FROM out_painting_task WHERE taskId IN (\(marks))",
                                    ids.map(MySQLValue.string)) {
                if let id = row["taskId"], let s = row["taskStatus"].flatMap(TaskStatus.init(rawValue:)) { out[id] = s }
            }
            return out
        }
    }

    /// Every task ended in the status its picture asked for.
    static func expectRightOutcomes(_ tasks: [Created], _ final: [String: TaskStatus]?,
                                    sourceLocation: SourceLocation = #_sourceLocation) {
        guard let final else { return }
        let wrong = tasks.filter { final[$0.taskId] != $0.expected }
        #expect(wrong.isEmpty, "wrong final status: \(wrong.map { "\($0.taskId) \(String(describing: final[$0.taskId])) ≠ \($0.expected)" })",
                sourceLocation: sourceLocation)
    }
}

extension Stack {
    /// A Poller instance beside the stack's (same environment), with its own /healthz on port
    /// 9400 + `number`; its log goes to `.run/log/poller-extra.log`.
    static func startExtraPoller(number: Int) throws -> (process: Process, healthURL: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "scripts/stack.sh")
        process.arguments = ["exec-poller"]
        let address = "127.0.0.1:\(9400 + number)"
        process.environment = ProcessInfo.processInfo.environment.merging(["POLLER_METRICS_ADDRESS": address]) { $1 }
        let path = "\(runDir)/log/poller-extra.log"
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return (process, "http://\(address)/healthz")
    }

    /// Runs a program with exactly `environment`; its exit status and output (stdout and stderr).
    static func run(_ path: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process(), output = Pipe()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// A Poller's /healthz answer.
    static func pollerHealth(_ url: String) throws -> JSONValue {
        _ = initialized
        return try JSONParser().parse(try HTTPClient().send(HTTPRequest(url: url, timeout: .seconds(3))).body)
    }

    /// The stack's own Poller's /healthz URL.
    static var stackPollerHealthURL: String {
        "http://\(env.string("POLLER_METRICS_ADDRESS", default: "127.0.0.1:9400"))/healthz"
    }
}

/// Samples tasks' statuses while a fault test runs and records any that moved backwards.
final class RegressionWatch: @unchecked Sendable {
    // @unchecked: `lastRank` and `regressions` are touched only under `lock`.
    private let lock = NSLock()
    private var lastRank: [String: Int] = [:]
    private var regressions: [String] = []
    private var running = true

    init(_ ids: [String]) {
        Thread.detachNewThread { [self] in
            // The sampling period of this watch (it observes the scenario; nothing waits on it).
            while self.sample(ids) { Thread.sleep(forTimeInterval: 0.2) }
        }
    }

    private func sample(_ ids: [String]) -> Bool {
        guard lock.withLock({ running }) else { return false }
        guard let statuses = try? Stack.statuses(ids) else { return true }  // MySQL may be restarting
        lock.withLock {
            for (id, status) in statuses {
                if let last = lastRank[id], status.rank < last { regressions.append("\(id) went back to \(status.rawValue)") }
                lastRank[id] = max(lastRank[id] ?? 0, status.rank)
            }
        }
        return true
    }

    /// Stops sampling; returns what went backwards.
    func finish() -> [String] {
        lock.withLock { running = false; return regressions }
    }
}

/// Runs `body(0..<count)` on `count` threads at once; the results in index order.
func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
    let group = DispatchGroup()
    let results = ResultBox<T>(count: count)
    for i in 0..<count {
        group.enter()
        Thread.detachNewThread {
            results.set(i, Result { try body(i) })
            group.leave()
        }
    }
    group.wait()
    return try results.values()
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    // @unchecked: `slots` is touched only under `lock`.
    private let lock = NSLock()
    private var slots: [Result<T, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ result: Result<T, any Error>) { lock.withLock { slots[i] = result } }

    func values() throws -> [T] { try lock.withLock { try slots.map { try $0!.get() } } }
}
