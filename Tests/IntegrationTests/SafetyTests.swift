import Foundation
import Testing
@testable import Common

extension Integration {
/// Safe on a real host (issue 13): every paid task stored and paid once, limits per user, UNKNOWN
/// not final on first sight, production never on development defaults, a login flood bounded.
/// (Collations and the original's table in the wild: MigrationTests; body types: ContractTests.)
@Suite("safe on a real host: paid tasks, user limits, UNKNOWN, production settings, login flood")
struct SafetyTests {
    static func stat(_ name: String) throws -> Int64 { try Stack.devServerStats()[name]?.int64Value ?? 0 }

    /// The rows for a picture: (taskId, status, submissionOutcome, errorCode).
    static func rows(picture: Int64) throws -> [(taskId: String, status: String, outcome: String?, errorCode: String?)] {
        try Stack.withDatabase { db in
            try db.query("SELECT taskId, taskStatus, submissionOutcome, errorCode FROM out_painting_task WHERE pictureId = ? ORDER BY id",
                         [.int(picture)]).map { ($0["taskId"] ?? "", $0["taskStatus"] ?? "", $0["submissionOutcome"], $0["errorCode"]) }
        }
    }

    /// Runs `body` with the DevServer's create limit and the account's submission pace lifted.
    static func unpaced<T>(_ settings: String, _ body: () throws -> T) throws -> T {
        let restore = try Stack.simConfig(settings)
        try Stack.setSubmissionPace(0)
        defer {
            _ = try? Stack.simConfig(restore)
            _ = try? Stack.setSubmissionPace(2)
        }
        return try body()
    }

    // MARK: - Money: every paid task is stored and followed, and paid once

    @Test("the row cannot be written (a CHECK constraint refuses it): 50000, and DashScope is never asked")
    func rowRefusedBeforeSubmitting() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let constraint = "it_refuse_\(Stack.freshID())"
        try Stack.withDatabase {
            try $0.execute(unsafeSQL: "ALTER TABLE out_painting_task ADD CONSTRAINT \(constraint) CHECK (pictureId <> \(f.picture))")
        }
        defer { _ = try? Stack.withDatabase { try $0.execute(unsafeSQL: "ALTER TABLE out_painting_task DROP CONSTRAINT \(constraint)") } }
        let before = try Self.stat("creates")
        let reply = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        #expect(reply.code == 50000, "\(String(describing: reply.json))")
        #expect(try Self.stat("creates") == before, "DashScope was asked for a task that could not be stored")
    }

    @Test("DashScope's answer is lost after it created the task: the task is found, stored and followed to SUCCEEDED; retries pay nothing more")
    func lostAnswer() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture(durationMs: 2000)
        let body = #"{"pictureId":\#(f.picture)}"#
        let before = try Self.stat("creates")
        try Self.unpaced(#"{"create_answer_delay_ms":6500,"create_qps_limit":0}"#) {
            let first = try Stack.create(cookie: f.ownerCookie, body: body)
            #expect(first.code == 50001 && (first.json?["message"]?.stringValue ?? "").contains("结果未知"), "\(String(describing: first.json))")
            #expect(try Self.stat("creates") == before + 1)
            // The user retries while the outcome is unknown: no second submission.
            let retry = try Stack.create(cookie: f.ownerCookie, body: body)
            #expect(retry.code == 50001 && (retry.json?["message"]?.stringValue ?? "").contains("确认中"), "\(String(describing: retry.json))")
            #expect(try Self.stat("creates") == before + 1, "a retry paid a second time")
        }
        let settled = Stack.eventually(timeout: .seconds(60), "the lost answer to be settled and the task followed to SUCCEEDED") { () -> String? in
            try Self.rows(picture: f.picture).first { $0.status == "SUCCEEDED" && $0.outcome == "unclear" }?.taskId
        }
        let taskId = try #require(settled)
        #expect(try Self.rows(picture: f.picture).count == 1, "one row: the intent became the task")
        // Later, the retry gets the task that exists.
        let again = try Stack.create(cookie: f.ownerCookie, body: body)
        #expect(again.code == 0 && again.data?["output"]?["taskId"]?.stringValue == taskId, "\(String(describing: again.json))")
        #expect(try Self.stat("creates") == before + 1, "one task paid for")
    }

    @Test("FcgiApp killed between submitting and storing: the task is found, stored and followed; a retry gets it")
    func killedBetweenSubmitAndStore() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture(durationMs: 2000)
        let body = #"{"pictureId":\#(f.picture)}"#
        let before = try Self.stat("creates")
        let fcgi = try #require(Stack.pid("fcgi"))
        try Self.unpaced(#"{"create_answer_delay_ms":6500,"create_qps_limit":0}"#) {
            // The create goes out; while its answer is on the way, the responder is killed.
            let answered = ResultBox<Int64?>(count: 1)
            let sender = Thread { answered.set(0, .success(try? Stack.create(cookie: f.ownerCookie, body: body).code)) }
            sender.start()
            let sent = Stack.eventually(timeout: .seconds(15), "DashScope to receive the create") { () -> Bool? in
                try Self.stat("creates") == before + 1 ? true : nil
            }
            _ = try #require(sent)
            kill(fcgi, SIGKILL)
            try Stack.waitBack(.fcgi, oldPid: fcgi)
        }
        let settled = Stack.eventually(timeout: .seconds(60), "the task to be found, stored and followed to SUCCEEDED") { () -> String? in
            try Self.rows(picture: f.picture).first { $0.status == "SUCCEEDED" }?.taskId
        }
        let taskId = try #require(settled)
        let retry = try Stack.create(cookie: f.ownerCookie, body: body)
        #expect(retry.code == 0 && retry.data?["output"]?["taskId"]?.stringValue == taskId, "\(String(describing: retry.json))")
        #expect(try Self.stat("creates") == before + 1, "one task paid for")
    }

    // MARK: - Limits per user

    @Test("one user's burst of 20 creates holds at most 2 in progress; another user's create goes through; then the per-minute limit")
    func perUserLimits() throws {
        try Stack.waitAnswering()
        let a = try Stack.fixture(), b = try Stack.fixture()
        let burst = try ResponderFaultTests.pictures(20, owner: a.owner)
        let more = try ResponderFaultTests.pictures(12, owner: a.owner)
        let replies = try Self.unpaced(#"{"latency_ms":1000,"create_qps_limit":0}"#) {
            try concurrently(burst.count + 1) { i -> Stack.Reply in
                if i < burst.count { return try Stack.create(cookie: a.ownerCookie, body: #"{"pictureId":\#(burst[i])}"#) }
                // Another user's first create, while the burst waits on DashScope.
                _ = Stack.eventually(timeout: .seconds(10), every: .milliseconds(50), "the burst to reach DashScope") {
                    try Self.stat("creates_in_flight") >= 2 ? true : nil
                }
                return try Stack.create(cookie: b.ownerCookie, body: #"{"pictureId":\#(b.picture)}"#)
            }
        }
        let other = try #require(replies.last)
        #expect(other.code == 0, "another user's create was refused: \(String(describing: other.json))")
        let mine = replies.dropLast()
        let accepted = mine.filter { $0.code == 0 }.count
        let refused = mine.filter { $0.code == 50001 }
        #expect(accepted >= 1 && accepted + refused.count == mine.count, "\(mine.map { String(describing: $0.code) })")
        #expect(refused.allSatisfy { ($0.json?["message"]?.stringValue ?? "").contains("正在提交") },
                "\(refused.map { $0.json?["message"]?.stringValue ?? "" })")
        // Sequential creates until the minute's limit (10) says so.
        var minuteMessage: String?
        try Self.unpaced(#"{"create_qps_limit":0}"#) {
            for picture in more {
                let reply = try Stack.create(cookie: a.ownerCookie, body: #"{"pictureId":\#(picture)}"#)
                if reply.code == 50001, let message = reply.json?["message"]?.stringValue, message.contains("每分钟") {
                    minuteMessage = message
                    break
                }
            }
        }
        #expect(minuteMessage != nil, "the per-minute limit never answered")
        let metrics = try HTTPClient().send(HTTPRequest(url: Stack.nginx + "/outpainting/metrics", timeout: .seconds(5))).bodyText
        #expect(metrics.contains(#"outpainting_create_refused_total{reason="in_progress"}"#))
        #expect(metrics.contains(#"outpainting_create_refused_total{reason="per_minute"}"#))
    }

    // MARK: - UNKNOWN is not final on first sight

    @Test("DashScope forgets running tasks (the DevServer restarts): they stay not final while UNKNOWN is young, then become UNKNOWN")
    func unknownIsNotFinalOnFirstSight() throws {
        let tasks = try Stack.createTasks(4, durations: 120_000...120_000, failEvery: 0)
        _ = Stack.eventually(timeout: .seconds(20), "the tasks to run") {
            try Stack.statuses(tasks.map(\.taskId)).values.allSatisfy { $0 == .running } ? true : nil
        }
        let devServer = try #require(Stack.pid("devserver"))
        kill(devServer, SIGKILL)
        try Stack.waitBack(.devserver, oldPid: devServer)
        let marks = Array(repeating: "?", count: tasks.count).joined(separator: ",")
        func seenUnknown() throws -> [(status: String, unknownSince: Bool)] {
            try Stack.withDatabase { db in
                try db.query("SELECT taskStatus, unknownSince IS NOT NULL AS seen FROM out_painting_task WHERE taskId IN (\(marks))",
                             tasks.map { .string($0.taskId) }).map { ($0["taskStatus"] ?? "", $0.int("seen") == 1) }
            }
        }
        let answered = Stack.eventually(timeout: .seconds(30), "DashScope's UNKNOWN answers to be recorded") { () -> [(status: String, unknownSince: Bool)]? in
            let rows = try seenUnknown()
            return rows.count == tasks.count && rows.allSatisfy(\.unknownSince) ? rows : nil
        }
        let firstSight = try #require(answered)
        #expect(firstSight.allSatisfy { $0.status != "UNKNOWN" }, "UNKNOWN on first sight: \(firstSight)")
        // After UNKNOWN_CONFIRM_S of nothing but UNKNOWN (the stack: 8 s), they are UNKNOWN.
        let confirmed = Stack.eventually(timeout: .seconds(90), "the tasks to be UNKNOWN once it lasted") { () -> Bool? in
            try seenUnknown().allSatisfy { $0.status == "UNKNOWN" } ? true : nil
        }
        #expect(confirmed == true)
        let metrics = try HTTPClient().send(HTTPRequest(url: "http://\(Stack.env.string("POLLER_METRICS_ADDRESS", default: "127.0.0.1:9400"))/metrics",
                                                        timeout: .seconds(5))).bodyText
        #expect(metrics.contains("outpainting_unknown_answers_total"))
    }

    // MARK: - Production never runs on development defaults

    /// Runs one of the built programs with exactly `environment` (no stack settings).
    static func runProgram(_ name: String, _ arguments: [String] = [], environment: [String: String]) throws -> (status: Int32, output: String) {
        try Stack.run(".build/debug/\(name)", arguments,
                      environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(environment) { $1 })
    }

    @Test("outside the dev profile each program refuses to start naming every missing variable; the DevServer never starts")
    func productionNeedsItsSettings() throws {
        let poller = try Self.runProgram("outpainting-poller", environment: [:])
        #expect(poller.status != 0)
        for name in ["MYSQL_HOST", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE", "DASHSCOPE_API_KEY", "KAFKA_BOOTSTRAP_SERVERS"] {
            #expect(poller.output.contains(name), "the Poller does not name \(name): \(poller.output)")
        }
        let fcgi = try Self.runProgram("outpainting-fcgi", environment: ["MYSQL_HOST": "db", "MYSQL_USER": "u", "MYSQL_PASSWORD": "p",
                                                                         "MYSQL_DATABASE": "d"])
        #expect(fcgi.status != 0)
        #expect(fcgi.output.contains("LOGIN_URL") && fcgi.output.contains("DASHSCOPE_API_KEY") && !fcgi.output.contains("MYSQL_HOST,"),
                "\(fcgi.output)")
        let trusted = try Self.runProgram("outpainting-fcgi", environment: ["LOGIN_MODE": "trusted-param"])
        #expect(trusted.status != 0 && trusted.output.contains("TRUSTED_PARAM_SECRET") && !trusted.output.contains("LOGIN_URL"),
                "\(trusted.output)")
        let devServer = try Self.runProgram("outpainting-devserver", environment: [:])
        #expect(devServer.status == 78 && devServer.output.contains("OUTPAINTING_PROFILE=dev"), "\(devServer.output)")

        // A production environment that still carries the local stack's key and login URL.
        var production = ["MYSQL_HOST": Stack.mysql.host, "MYSQL_PORT": String(Stack.mysql.port), "MYSQL_USER": Stack.mysql.user,
                          "MYSQL_PASSWORD": Stack.mysql.password, "MYSQL_DATABASE": Stack.mysql.database,
                          "KAFKA_BOOTSTRAP_SERVERS": Stack.kafka, "DASHSCOPE_BASE_URL": Stack.devServer + "/api/v1",
                          "DASHSCOPE_API_KEY": DeploymentProfile.localAPIKey, "LOGIN_URL": Stack.devServer + "/api/user/get/login"]
        let check = try Self.runProgram("outpainting", ["check-config", "--skip-dashscope"], environment: production)
        #expect(check.status == 1 && check.output.contains("FAIL profile") && check.output.contains("DASHSCOPE_API_KEY"), "\(check.output)")
        production["OUTPAINTING_PROFILE"] = "dev"
        let inDev = try Self.runProgram("outpainting", ["check-config", "--skip-dashscope"], environment: production)
        #expect(inDev.output.contains("ok   profile"), "\(inDev.output)")
    }

    @Test("make install installs build prerequisites only, never the development stack")
    func installLeavesTheDevStackOut() throws {
        let (_, plan) = try Stack.run("scripts/setup.sh", ["--build-only", "--dry-run"], environment: ProcessInfo.processInfo.environment)
        #expect(plan.contains("libfcgi-dev") && plan.contains("librdkafka"), "\(plan)")
        for devOnly in ["mariadb-server", "nginx", "chromium", "kcat", "wrk", "tansu"] {
            #expect(!plan.contains(devOnly), "make install would install \(devOnly): \(plan)")
        }
        let makefile = try String(contentsOfFile: "Makefile", encoding: .utf8)
        #expect(makefile.contains("install:\n\tscripts/setup.sh --build-only"))
    }

    @Test("trusted-param mode believes identity params only with nginx's shared secret (a local process can write to the socket)")
    func trustedParamSecret() throws {
        let f = try Stack.fixture()
        let socket = "\(Stack.runDir)/fcgi-trusted.sock"
        let base = ["REQUEST_METHOD": "GET", "DOCUMENT_URI": "/api/picture/out_painting/get_task", "QUERY_STRING": "taskId=no-such-task",
                    "OUTPAINTING_USER_ID": String(f.owner)]
        let noSecret = try RawFastCGI.request(socket: socket, params: base)
        #expect(noSecret.contains(#""code":40100"#), "\(noSecret)")
        let wrong = try RawFastCGI.request(socket: socket, params: base.merging(["OUTPAINTING_TRUST_SECRET": "guessed-guessed-guessed"]) { $1 })
        #expect(wrong.contains(#""code":40100"#), "\(wrong)")
        let secret = Stack.env.string("TRUSTED_PARAM_SECRET", default: "local-dev-trusted-param-secret")
        let right = try RawFastCGI.request(socket: socket, params: base.merging(["OUTPAINTING_TRUST_SECRET": secret]) { $1 })
        #expect(right.contains(#""code":40400"#), "with nginx's secret the user is known (the task is not): \(right)")
    }

    @Test("a flood of junk sessions: no call without a session cookie, a bounded number of calls, logged-in users answered meanwhile")
    func loginFlood() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let path = "/api/picture/out_painting/get_task?taskId=no-such-\(Stack.freshID())"
        #expect(try Stack.request("GET", path, cookie: f.ownerCookie).code == 40400)  // cached from here on
        let restore = try Stack.simConfig(#"{"login_latency_ms":1500}"#)
        defer { _ = try? Stack.simConfig(restore) }
        let before = try Self.stat("logins")
        for _ in 0..<10 {
            #expect(try Stack.request("GET", path, cookie: "theme=dark; _ga=\(Stack.freshID())").code == 40100)
        }
        #expect(try Self.stat("logins") == before, "a request without a session cookie made a login call")
        _ = try HTTPClient().send(HTTPRequest(method: "POST", url: Stack.devServer + "/_sim/stats/reset", timeout: .seconds(5)))
        let replies = try concurrently(66) { i -> Int64? in
            if i < 60 { return try Stack.request("GET", path, cookie: "SESSION=junk-\(Stack.freshID())").code }
            _ = Stack.eventually(timeout: .seconds(10), every: .milliseconds(20), "junk login calls in flight") {
                try Self.stat("logins_in_flight") > 0 ? true : nil
            }
            return try Stack.request("GET", path, cookie: f.ownerCookie).code
        }
        #expect(replies.prefix(60).allSatisfy { $0 == 40100 || $0 == 50000 }, "\(replies.prefix(60))")
        #expect(replies.suffix(6).allSatisfy { $0 == 40400 }, "a logged-in user was not answered during the flood: \(replies.suffix(6))")
        let most = try Self.stat("logins_max_in_flight")
        let bound = Int64(Stack.env.string("LOGIN_MAX_CONCURRENT", default: "8")) ?? 8  // FCGI_WORKERS / 2
        #expect(most >= 1 && most <= bound, "\(most) login calls at once; the bound is \(bound)")
    }
}
}
