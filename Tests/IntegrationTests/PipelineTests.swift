import Foundation
import Synchronization
import Testing
@testable import Common

/// The whole pipeline through nginx → FcgiApp → DashScope (DevServer) → MySQL → Kafka → Poller.
/// Every integration suite nests in this one, so that all of them run one at a time: the fault
/// tests stop and kill the stack's components.
@Suite("integration (real nginx, MariaDB, Kafka broker, DevServer)", .serialized,
       .enabled(if: Stack.enabled, "set OUTPAINTING_INTEGRATION=1 with the stack up"), .stackReady)
struct Integration {}

extension Integration {
@Suite("end to end through nginx")
struct PipelineTests {
    @Test("the loaded librdkafka is >= 2.1.2 (Debian's 2.0.2 fails against the broker)")
    func librdkafkaVersion() {
        #expect(KafkaLibrary.versionNumber >= KafkaLibrary.minimumVersionNumber, "loaded \(KafkaLibrary.versionString)")
    }

    @Test("create_task → the Poller drives the task to SUCCEEDED, stores it, commits the offset")
    func succeededByPoller() async throws {
        try await Stack.waitGroupConsumesAllPartitions()
        let f = try Stack.fixture(durationMs: 1500)
        let created = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":"\#(f.picture)","parameters":{"xScale":1.5,"yScale":1.5}}"#)
        #expect(created.status == 200 && created.code == 0)
        let output = try #require(created.data?["output"])
        let taskId = try #require(output["taskId"]?.stringValue)
        #expect(output["taskStatus"] == .string("PENDING"))
        #expect(created.data?["requestId"]?.stringValue?.isEmpty == false)

        // Nobody calls get_task: only the Poller can finish the row.
        let row = Stack.eventually("the Poller to store SUCCEEDED") {
            try Stack.row(taskId).flatMap { $0.status == .succeeded ? $0 : nil }
        }
        let stored = try #require(row)
        #expect(stored.userId == f.owner && stored.pictureId == f.picture)
        #expect(stored.outputImageUrl?.contains("/results/\(taskId).png") == true)
        #expect(stored.retryCount >= 1)
        let partition = try #require(stored.pollerPartition, "the Poller claimed the task")
        #expect(stored.kafkaPartition == partition)
        let offset = try #require(stored.kafkaOffset, "the create message was acknowledged")
        let committed = Stack.eventually("the committed offset to pass the task's message") {
            try Stack.committedOffset(partition: partition).flatMap { $0 > offset ? $0 : nil }
        }
        #expect(committed != nil)

        let got = try Stack.getTask(taskId, cookie: f.ownerCookie)
        #expect(got.code == 0)
        let view = try #require(got.data?["output"])
        #expect(view["taskStatus"] == .string("SUCCEEDED"))
        #expect(view["taskMetrics"]?["succeeded"]?.int64Value == 1)
        let url = try #require(view["outputImageUrl"]?.stringValue)
        let image = try HTTPClient().send(HTTPRequest(url: url, timeout: .seconds(5)))
        #expect(image.status == 200 && Array(image.body.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
    }

    @Test("get_task follows a FAILED task to FAILED with DashScope's code and message")
    func failedThroughGetTask() throws {
        let f = try Stack.fixture(durationMs: 800, outcome: "FAILED")
        let created = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        let taskId = try #require(created.data?["output"]?["taskId"]?.stringValue)
        let final = Stack.eventually("get_task to show FAILED") { () -> JSONValue? in
            let output = try Stack.getTask(taskId, cookie: f.ownerCookie).data?["output"]
            return output?["taskStatus"] == .string("FAILED") ? output : nil
        }
        #expect(final?["code"] == .string("InternalError.Algo"))
        #expect(final?["message"] == .string("algorithm process error"))
        #expect(final?["outputImageUrl"] == .null)
        #expect(try Stack.row(taskId)?.status == .failed)
    }

    @Test("who may see and create: stranger 40101, no login 40100, admin may read, forged cookie 40100")
    func authorization() throws {
        let f = try Stack.fixture(durationMs: 60_000)
        let body = #"{"pictureId":\#(f.picture)}"#
        #expect(try Stack.create(cookie: nil, body: body).code == 40100)
        #expect(try Stack.create(cookie: "SESSION=forged-\(f.owner)", body: body).code == 40100)
        #expect(try Stack.create(cookie: f.strangerCookie, body: body).code == 40101)
        // A client-sent identity header is ignored (and stripped by nginx).
        #expect(try Stack.create(cookie: nil, body: body, headers: [("X-User-Id", "\(f.owner)")]).code == 40100)

        let created = try Stack.create(cookie: f.ownerCookie, body: body)
        let taskId = try #require(created.data?["output"]?["taskId"]?.stringValue)
        #expect(try Stack.getTask(taskId, cookie: f.strangerCookie).code == 40101)
        #expect(try Stack.getTask(taskId, cookie: nil).code == 40100)
        #expect(try Stack.getTask(taskId, cookie: f.adminCookie).code == 0)
        #expect(try Stack.getTask(taskId, cookie: f.ownerCookie).data?["output"]?["taskStatus"] != .string("SUCCEEDED"))
    }

    @Test("bad input is 40000/40400 and never reaches DashScope")
    func validation() throws {
        let f = try Stack.fixture()
        let before = try Stack.devServerStats()["creates"]?.int64Value
        for body in [#"{"pictureId":"12a"}"#, "[]", "not json", #"{"pictureId":1,"parameters":{"angle":360}}"#,
                     #"{"pictureId":\#(f.picture),"parameters":{"outputRatio":"2:1"}}"#,
                     #"{"pictureId":\#(f.picture),"parameters":{"xScale":5}}"#] {
            let reply = try Stack.create(cookie: f.ownerCookie, body: body)
            #expect(reply.status == 200 && reply.code == 40000, "\(body)")
        }
        #expect(try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(Stack.freshID())}"#).code == 40400)
        #expect(try Stack.devServerStats()["creates"]?.int64Value == before)

        #expect(try Stack.getTask("", cookie: f.ownerCookie).code == 40000)
        #expect(try Stack.getTask("no-such-task-\(Stack.freshID())", cookie: f.ownerCookie).code == 40400)
        #expect(try Stack.getTask("%27%20OR%20%271%27%3D%271", cookie: f.ownerCookie).code == 40000)
        let wrongMethod = try Stack.request("GET", "/api/picture/out_painting/create_task", cookie: f.ownerCookie)
        #expect(wrongMethod.status == 405 && wrongMethod.code == 40000)
        let huge = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":1,"pad":""# + String(repeating: "x", count: 70_000) + #""}"#)
        #expect(huge.status == 413)
    }

    @Test("a double click creates one task: the same user, picture and parameters within 10 s get the same task")
    func doubleSubmission() throws {
        let f = try Stack.fixture(durationMs: 60_000)
        let before = try Stack.devServerStats()["creates"]?.int64Value ?? 0
        let body = #"{"pictureId":\#(f.picture),"parameters":{"xScale":2}}"#
        let first = try Stack.create(cookie: f.ownerCookie, body: body)
        let second = try Stack.create(cookie: f.ownerCookie, body: body)
        let firstID = try #require(first.data?["output"]?["taskId"]?.stringValue)
        #expect(second.data?["output"]?["taskId"]?.stringValue == firstID)
        #expect(try Stack.devServerStats()["creates"]?.int64Value == before + 1)
        // Other parameters are another task.
        let other = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture),"parameters":{"yScale":2}}"#)
        #expect(other.code == 0 && other.data?["output"]?["taskId"]?.stringValue != firstID)
    }

    @Test("get_task makes no live query while the sweep is fresh; when it is stale, 12 concurrent calls make at most one")
    func liveCheckOnlyWhenStale() throws {
        let f = try Stack.fixture(durationMs: 60_000)
        let created = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        let taskId = try #require(created.data?["output"]?["taskId"]?.stringValue)
        // The sweeper sees it RUNNING (a list sighting: no check counted).
        _ = Stack.eventually("the sweeper to see the task running") { try Stack.row(taskId).flatMap { $0.status == .running ? true : nil } }
        func markNotCheckedRecently() throws {
            try Stack.withDatabase {
                try $0.execute("UPDATE out_painting_task SET lastCheckTime = NOW(3) - INTERVAL 1 HOUR WHERE taskId = ?", [.string(taskId)])
            }
        }
        try markNotCheckedRecently()
        let fresh = try Stack.row(taskId)?.retryCount ?? 0
        #expect(try concurrently(12) { _ in try Stack.getTask(taskId, cookie: f.ownerCookie).code }.allSatisfy { $0 == 0 })
        #expect(try Stack.row(taskId)?.retryCount == fresh, "a live check while the sweep is fresh")

        // The list query fails: the sweep turns stale, get_task may check live again (once for 12 calls).
        let restore = try Stack.simConfig(#"{"list_error_status":500}"#)
        defer { _ = try? Stack.simConfig(restore) }
        let staleAfter = Duration.milliseconds(Int64(Stack.env.string("POLLER_SWEEP_STALE_MS", default: "5000")) ?? 5000)
        let key = QuotaRepository.quotaKey(apiKey: Stack.env.string("DASHSCOPE_API_KEY", default: "sk-local-dev"))
        _ = Stack.eventually("the sweep to turn stale") {
            try Stack.withDatabase { try SweeperRepository.health($0, key: key) }.isFresh(staleAfter: staleAfter) ? nil : true
        }
        try markNotCheckedRecently()
        let before = try Stack.row(taskId)?.retryCount ?? 0
        #expect(try concurrently(12) { _ in try Stack.getTask(taskId, cookie: f.ownerCookie).code }.allSatisfy { $0 == 0 })
        // Each live check stores one observation (retryCount + 1); the owner's fallback may add at most one more.
        let after = try Stack.row(taskId)?.retryCount ?? 0
        #expect(after - before >= 1 && after - before <= 2, "\(after - before) checks for 12 concurrent get_task calls")
        _ = try Stack.simConfig(restore)
        _ = Stack.eventually("the sweep to be fresh again") {
            try Stack.withDatabase { try SweeperRepository.health($0, key: key) }.isFresh(staleAfter: staleAfter) ? true : nil
        }
    }

    @Test("a stored task whose message never reached Kafka is found by the reconciler and followed")
    func orphanIsFollowed() throws {
        // Long enough that the reconciler adopts it before it ends (the sweeper would finish it anyway).
        let f = try Stack.fixture(durationMs: 11_000)
        // What create_task does when the produce fails: DashScope accepted, the row is stored, no message.
        HTTPClient.initializeLibrary()
        let client = DashScopeClient(configuration: DashScopeConfiguration(baseURL: Stack.devServer + "/api/v1"))
        // A client outside FcgiApp's submission pace (like any other user of the account) may meet
        // DashScope's 2/s quota right after the paced creates of earlier tests: it retries.
        let accepted = Stack.eventually(timeout: .seconds(10), "DashScope to accept a direct create") { () -> DashScopeCreatedTask? in
            do {
                return try client.create(imageURL: "\(Stack.devServer)/images/x.png?sim_duration_ms=11000", parameters: OutPaintingParameters())
            } catch let error as DashScopeError where error.kind == .throttled {
                return nil
            }
        }
        let created = try #require(accepted)
        try Stack.withDatabase {
            try TaskRepository.insert($0, taskId: created.taskId, pictureId: f.picture, userId: f.owner, status: .pending,
                                      requestId: created.requestId, parameters: OutPaintingParameters())
        }
        let adopted = Stack.eventually(timeout: .seconds(30), "the reconciler to adopt the task") {
            try Stack.row(created.taskId).flatMap { $0.pollerPartition != nil ? $0 : nil }
        }
        #expect(adopted?.status.isFinal == false, "adopted while it still ran")
        let row = Stack.eventually(timeout: .seconds(60), "the task to finish") {
            try Stack.row(created.taskId).flatMap { $0.status == .succeeded ? $0 : nil }
        }
        #expect(row != nil)
    }
}
}
