import Foundation
import Testing
@testable import Common

extension Integration {
/// The Poller under crashes and faults, on the real stack: every task still reaches the status its
/// simulated run ends in, none stays stuck, none moves backwards.
@Suite("faults: crashes, restarts, throttling")
struct FaultTests {
    @Test("kill -9 the Poller at random points while 60 tasks run")
    func pollerKilled() throws {
        let tasks = try Stack.createTasks(60, durations: 1000...6000)
        let watch = RegressionWatch(tasks.map(\.taskId))
        for _ in 0..<3 {
            // The scenario itself: the kill lands after a random pause, at a random point of the work.
            Thread.sleep(forTimeInterval: Double.random(in: 0.3...2.0))
            let old = try Stack.signal("poller", SIGKILL)
            try Stack.waitBack(.poller, oldPid: old)
        }
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(90))
        #expect(watch.finish().isEmpty)
        Stack.expectRightOutcomes(tasks, final)
    }

    @Test("SIGTERM: the Poller finishes its round, commits, leaves the group and exits 0")
    func pollerStopsGracefully() throws {
        let tasks = try Stack.createTasks(10, durations: 500...3000)
        try Stack.waitUnderWay(tasks)  // SIGTERM lands while the Poller is following them
        let old = try Stack.signal("poller", SIGTERM)
        try Stack.waitBack(.poller, oldPid: old)
        let log = try String(contentsOfFile: "\(Stack.runDir)/log/supervisor.log", encoding: .utf8)
        #expect(log.contains("poller (pid \(old)) exited with status 0"))
        Stack.expectRightOutcomes(tasks, try Stack.waitAllFinal(tasks, timeout: .seconds(60)))
    }

    @Test("the broker restarts and loses everything while tasks run")
    func brokerRestart() throws {
        let tasks = try Stack.createTasks(20, durations: 2000...8000)
        let watch = RegressionWatch(tasks.map(\.taskId))
        try Stack.waitUnderWay(tasks)  // the broker dies while the Poller is following them
        let fcgi = try #require(Stack.pid("fcgi")), poller = try #require(Stack.pid("poller"))
        let old = try Stack.signal("broker", SIGKILL)
        try Stack.waitBack(.broker, oldPid: old)
        // The stack restarts every Kafka client after a broker restart (stale-metadata trap).
        try Stack.waitBack(.fcgi, oldPid: fcgi)
        try Stack.waitBack(.poller, oldPid: poller)
        // Tasks created while the broker is back but empty: their messages may be acknowledged
        // and lost, or fail; the reconciler must bring them in either way.
        let late = try Stack.createTasks(5, durations: 1000...3000)
        let final = try Stack.waitAllFinal(tasks + late, timeout: .seconds(120))
        #expect(watch.finish().isEmpty)
        Stack.expectRightOutcomes(tasks + late, final)
    }

    @Test("MariaDB restarts mid-run: the Poller reconnects and nothing is lost")
    func mariadbRestart() throws {
        let tasks = try Stack.createTasks(20, durations: 2000...6000)
        try Stack.waitUnderWay(tasks)  // MariaDB dies while the Poller is following them
        let old = try Stack.signal("mariadb", SIGKILL)
        try Stack.waitBack(.mariadb, oldPid: old)
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(120))
        Stack.expectRightOutcomes(tasks, final)
    }

    @Test("DashScope misbehaves: 30% 429, 10% 500, slow and malformed answers")
    func dashScopeFaults() throws {
        let tasks = try Stack.createTasks(8, durations: 500...1500)
        let throttledBefore = try quotaThrottledCount()
        let restore = try Stack.simConfig(#"{"query_error_429_rate":0.3,"query_error_500_rate":0.1,"query_slow_rate":0.05,"slow_ms":4000,"query_malformed_rate":0.05}"#)
        defer { _ = try? Stack.simConfig(restore) }
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(150))
        _ = try Stack.simConfig(restore)
        Stack.expectRightOutcomes(tasks, final)
        // 429s were reported to the shared bucket, which slows every instance.
        #expect(try quotaThrottledCount() > throttledBefore)
    }

    @Test("within the account quota: 10 queries/s at DashScope, 80 tasks, no 429")
    func quota() throws {
        try Stack.withDatabase { try $0.execute("UPDATE outpainting_query_quota SET accountQPS = 10") }
        let restore = try Stack.simConfig(#"{"query_qps_limit":10}"#)
        defer {
            _ = try? Stack.simConfig(restore)
            _ = try? Stack.withDatabase { try $0.execute("UPDATE outpainting_query_quota SET accountQPS = 20") }
        }
        let before = try Stack.devServerStats()
        let tasks = try Stack.createTasks(80, durations: 3000...8000, failEvery: 0)
        let createdAt = Date()
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(120))
        let allFinalAfter = Date().timeIntervalSince(createdAt)
        let after = try Stack.devServerStats()
        Stack.expectRightOutcomes(tasks, final)
        let queries = (after["queries"]?.int64Value ?? 0) - (before["queries"]?.int64Value ?? 0)
        let throttled = (after["throttled"]?.int64Value ?? 0) - (before["throttled"]?.int64Value ?? 0)
        let perTask = Double(queries) / Double(tasks.count)
        // Detection delay: DashScope's end_time (UTC+8) → the row's final write (the database's clock, UTC here).
        let delays = try Stack.withDatabase { db in
            try db.query("""
                SELECT TIMESTAMPDIFF(MICROSECOND, CONVERT_TZ(endTime, '+08:00', '+00:00'), lastCheckTime) / 1000 AS ms
                FROM out_painting_task WHERE taskId IN (\(Array(repeating: "?", count: tasks.count).joined(separator: ",")))
                """, tasks.map { .string($0.taskId) }).compactMap { $0["ms"].flatMap(Double.init) }.sorted()
        }
        func percentile(_ p: Double) -> Double { delays.isEmpty ? .nan : delays[min(delays.count - 1, Int(Double(delays.count) * p))] / 1000 }
        print("quota test: \(tasks.count) tasks, \(queries) status queries (\(String(format: "%.2f", perTask)) per task), "
              + "\(throttled) throttled, all final \(String(format: "%.1f", allFinalAfter)) s after the last create; "
              + "task end → row final p50 \(String(format: "%.2f", percentile(0.5))) s, p95 \(String(format: "%.2f", percentile(0.95))) s, "
              + "max \(String(format: "%.2f", percentile(1))) s")
        #expect(throttled <= 2, "429s at the account quota")
        #expect(perTask < 2)
    }

    @Test("three Poller instances; one is killed mid-run and the others take over its partitions")
    func instancesShareAndTakeOver() async throws {
        let extra = try (1...2).map { try Stack.startExtraPoller(number: $0) }
        defer { extra.forEach { $0.process.terminate(); $0.process.waitUntilExit() } }
        // All three own partitions before the work starts, so the kill below takes work away.
        for poller in extra {
            _ = Stack.eventually(timeout: .seconds(60), "extra Poller \(poller.healthURL) to own partitions") {
                try Stack.pollerPartitions(poller.healthURL).flatMap { $0 > 0 ? true : nil }
            }
        }
        let tasks = try Stack.createTasks(40, durations: 2000...7000)
        try Stack.waitUnderWay(tasks)
        kill(extra[0].process.processIdentifier, SIGKILL)
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(90))
        Stack.expectRightOutcomes(tasks, final)
        extra.forEach { $0.process.terminate() }
        // The survivors take every partition back once the killed member's session expires.
        try await Stack.waitGroupConsumesAllPartitions(timeout: .seconds(90))
    }

    private func quotaThrottledCount() throws -> Int64 {
        try Stack.withDatabase { try $0.query("SELECT COALESCE(SUM(throttledCount), 0) AS n FROM outpainting_query_quota").first?.int64("n") ?? 0 }
    }

}

@Suite("poison messages and completion hints")
struct MessageTests {
    @Test("poison messages go to the dead-letter topic with the reason; the partition keeps moving")
    func poison() async throws {
        try await Stack.waitGroupConsumesAllPartitions()
        let producer = try KafkaProducer(properties: ["bootstrap.servers": Stack.kafka, "partitioner": "murmur2_random"],
                                         logger: Stack.logger)
        let marker = "poison-\(Stack.freshID())"
        let garbage = try producer.send(topic: Stack.topic, key: marker, value: Array("not json \(marker)".utf8), timeout: .seconds(5))
        let unknown = try producer.send(topic: Stack.topic, key: marker,
                                        value: Array(#"{"taskId":"\#(marker)","pictureId":1,"userId":1,"createTime":0,"retryCount":0}"#.utf8),
                                        timeout: .seconds(5))
        let committed = Stack.eventually("the offsets to move past the poison") {
            try Stack.committedOffset(partition: unknown.partition).flatMap { $0 > max(garbage.offset, unknown.offset) ? $0 : nil }
        }
        #expect(committed != nil)

        let consumer = try KafkaConsumer(properties: ["bootstrap.servers": Stack.kafka, "group.id": "it-dlt-\(marker)",
                                                      "auto.offset.reset": "earliest", "session.timeout.ms": "2000",
                                                      "heartbeat.interval.ms": "500"],
                                         topics: [Stack.topic + "-dlt"], logger: Stack.logger)
        defer { consumer.close() }
        var reasons: [String: String] = [:]
        _ = Stack.eventually(timeout: .seconds(30), "both messages in the dead-letter topic") { () -> Bool? in
            for message in consumer.poll(maxMessages: 500, timeout: .milliseconds(500)).messages
            where message.key.map({ String(decoding: $0, as: UTF8.self) }) == marker {
                reasons[String(decoding: message.value, as: UTF8.self)] = message.headers.first { $0.0 == "dlt.reason" }?.1
            }
            return reasons.count == 2 ? true : nil
        }
        #expect(reasons["not json \(marker)"]?.contains("invalid JSON") == true)
        #expect(reasons.values.contains { $0.contains("unknown task") })
        await producer.close()
    }

    @Test("completion events: the token only from its header (wrong or in the URL: 403), unknown task ignored, a running task's hint accepted")
    func completionEvents() throws {
        let path = Stack.env.string("HINT_PATH", default: "/api/outpainting/dashscope-event")
        let token = Stack.env.string("HINT_TOKEN", default: "local-dev-hint-token-0123456789")
        func event(_ taskId: String) -> String { #"{"type":"dashscope:System:AsyncTaskFinish","data":{"task_id":"\#(taskId)","task_status":"SUCCEEDED"}}"# }
        let f = try Stack.fixture(durationMs: 60_000)
        let created = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        let taskId = try #require(created.data?["output"]?["taskId"]?.stringValue)

        let forged = try Stack.request("POST", path, body: event(taskId), headers: [("X-Outpainting-Token", "wrong-token-wrong-token")])
        #expect(forged.status == 403 && forged.code == 40300)
        // The right token in the URL is refused: it would be written to nginx's access log.
        let inURL = try Stack.request("POST", "\(path)?token=\(token)", body: event(taskId))
        #expect(inURL.status == 403 && inURL.code == 40300)
        let unknown = try Stack.request("POST", path, body: event("no-such-\(Stack.freshID())"), headers: [("X-Outpainting-Token", token)])
        #expect(unknown.code == 0 && unknown.data?["accepted"] == .bool(false))
        let accepted = try Stack.request("POST", path, body: event(taskId), headers: [("X-Outpainting-Token", token)])
        #expect(accepted.code == 0 && accepted.data?["accepted"] == .bool(true))
        // A hint never sets state: the task is still running at DashScope.
        #expect(try Stack.row(taskId)?.status.isFinal == false)
    }
}
}
