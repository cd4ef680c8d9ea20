import Foundation
import Testing
@testable import Common

extension Integration {
/// The `outpainting` admin CLI against the local stack (run through `scripts/stack.sh admin`, which
/// gives it the stack's environment).
@Suite("admin CLI against the stack")
struct AdminCLITests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
        var json: JSONValue? { try? JSONParser().parse(Array(stdout.utf8)) }
    }

    static func cli(_ arguments: String...) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "scripts/stack.sh")
        process.arguments = ["admin"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test("check-config, migrate and lag work and say so; bad usage exits 64")
    func healthCommands() throws {
        let check = try Self.cli("check-config", "--json")
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        #expect(check.json?["ok"] == .bool(true))
        let migrate = try Self.cli("migrate")
        #expect(migrate.status == 0 && migrate.stdout.contains("schema up to date"), "\(migrate.stdout) \(migrate.stderr)")
        let lag = try Self.cli("lag", "--json")
        #expect(lag.status == 0, "\(lag.stderr)")
        guard case .array(let partitions)? = lag.json?["partitions"] else { Issue.record("no partitions: \(lag.stdout)"); return }
        #expect(partitions.count == (try Stack.env.int("KAFKA_TOPIC_PARTITIONS", default: 4)))
        #expect(try Self.cli("tasks", "--status", "NOPE").status == 64)
        #expect(try Self.cli("requeue").status == 64)
    }

    @Test("check-config fails, with the reason, when a dependency is wrong")
    func checkConfigFails() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["DASHSCOPE_API_KEY=sk-wrong", "scripts/stack.sh", "admin", "check-config"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(text.contains("FAIL dashscope") && text.contains("DASHSCOPE_API_KEY"), "\(text)")
        #expect(!text.contains("sk-wrong"), "the key is never printed")
    }

    @Test("task, tasks and requeue on real tasks")
    func taskCommands() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture(durationMs: 60_000)
        let created = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        let taskId = try #require(created.data?["output"]?["taskId"]?.stringValue)
        _ = Stack.eventually("the first check") { try Stack.row(taskId).flatMap { $0.status == .running ? true : nil } }

        let shown = try Self.cli("task", taskId, "--json")
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.json?["task"]?["status"]?.stringValue == "RUNNING")
        #expect(shown.json?["task"]?["userId"]?.int64Value == f.owner)
        #expect(shown.json?["dashscope"]?["status"]?.stringValue == "RUNNING")
        let text = try Self.cli("task", taskId, "--no-dashscope")
        #expect(text.status == 0 && text.stdout.contains("followed by the consumer of partition"), "\(text.stdout)")
        #expect(try Self.cli("task", "no-such-task").status == 1)

        let listed = try Self.cli("tasks", "--status", "RUNNING", "--limit", "10000", "--json")
        guard case .array(let rows)? = listed.json else { Issue.record("tasks: \(listed.stdout) \(listed.stderr)"); return }
        #expect(rows.contains { $0["taskId"]?.stringValue == taskId })
        let older = try Self.cli("tasks", "--status", "RUNNING", "--older-than", "1h", "--limit", "10000", "--json")
        guard case .array(let oldRows)? = older.json else { Issue.record("tasks: \(older.stdout)"); return }
        #expect(!oldRows.contains { $0["taskId"]?.stringValue == taskId })

        let checksBefore = try Stack.row(taskId)?.retryCount ?? 0
        let requeued = try Self.cli("requeue", taskId, "--json")
        #expect(requeued.status == 0, "\(requeued.stderr)")
        #expect(requeued.json.flatMap { if case .array(let a) = $0 { a.first?["result"]?.stringValue } else { nil } }?.hasPrefix("requeued") == true,
                "\(requeued.stdout)")
        // Claimed again by its partition's Poller and checked again.
        _ = Stack.eventually(timeout: .seconds(20), "the requeued task to be claimed and checked") {
            try Stack.row(taskId).flatMap { $0.pollerPartition != nil && $0.retryCount > checksBefore ? true : nil }
        }
        #expect(try Self.cli("requeue", "no-such-task").status == 1)
    }

    @Test("dlt list shows a poison message with its reason; replay sends it back once")
    func deadLetters() throws {
        let marker = "cli-poison-\(Stack.freshID())"
        let producer = try KafkaProducer(properties: ["bootstrap.servers": Stack.kafka], logger: Stack.logger)
        defer { producer.closeBlocking() }
        _ = try producer.send(topic: Stack.topic, key: marker, value: Array(#"{"not":"a task","marker":"\#(marker)"}"#.utf8), timeout: .seconds(5))
        let listed = Stack.eventually(timeout: .seconds(30), "the poison message in the dead-letter topic") { () -> JSONValue? in
            let run = try Self.cli("dlt", "list", "--limit", "100000", "--json")
            guard run.status == 0, case .array(let messages)? = run.json else { return nil }
            return messages.first { $0["key"]?.stringValue == marker }
        }
        #expect(listed?["headers"]?["dlt.reason"]?.stringValue?.isEmpty == false)

        let replay = try Self.cli("dlt", "replay", "--group", "it-replay-\(marker)", "--limit", "100000", "--json")
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect((replay.json?["replayed"]?.int64Value ?? 0) >= 1)
        let again = try Self.cli("dlt", "replay", "--group", "it-replay-\(marker)", "--limit", "100000", "--json")
        #expect(again.status == 0, "\(again.stderr)")
        // The group remembers: nothing replayed the first time is replayed again (only messages
        // dead-lettered since, such as the poison coming back, can be new).
        func positions(_ run: Run) -> Set<String> {
            guard case .array(let list)? = run.json?["messages"] else { return [] }
            return Set(list.map { "\($0["partition"]?.int64Value ?? -1):\($0["offset"]?.int64Value ?? -1)" })
        }
        #expect(!positions(replay).isEmpty)
        #expect(positions(replay).isDisjoint(with: positions(again)))
    }
}
}
