import Foundation
import Testing
@testable import Common

extension Integration {
/// FcgiApp when what it depends on is slow, down or refusing: every answer is still the host's
/// envelope with the right code, nothing is stored that DashScope did not accept, and it recovers
/// by itself.
@Suite("responder: slow and failing dependencies")
struct ResponderFaultTests {
    static let unknownTask = "/api/picture/out_painting/get_task?taskId=no-such-task"

    @Test("login endpoint slow or failing → 50000 and workers freed; failures are not cached; the cookie is never logged")
    func loginFaults() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let secret = "s3cret-\(Stack.freshID())"
        let cookie = "SESSION=dev-user-\(f.owner); remember=\(secret)"
        do {
            // Slower than LOGIN_TIMEOUT_MS (2 s): more requests at once than FcgiApp has workers,
            // each gets 50000, none is left to nginx's timeout.
            let restore = try Stack.simConfig(#"{"login_latency_ms":4000}"#)
            defer { _ = try? Stack.simConfig(restore) }
            let replies = try concurrently(24) { _ in try Stack.request("GET", Self.unknownTask, cookie: cookie) }
            #expect(replies.allSatisfy { $0.status == 200 && $0.code == 50000 }, "\(replies.map { "\($0.status)/\(String(describing: $0.code))" })")
        }
        do {
            let restore = try Stack.simConfig(#"{"login_status":503}"#)
            defer { _ = try? Stack.simConfig(restore) }
            #expect(try Stack.request("GET", Self.unknownTask, cookie: cookie).code == 50000)
        }
        // The host is back: the failure above was not cached.
        #expect(try Stack.request("GET", Self.unknownTask, cookie: cookie).code == 40400)

        // A user the host does not know yet is 40100 — and logged in once the host knows them and
        // the brief memory of the refusal (LOGIN_REFUSAL_CACHE_TTL_MS) has passed.
        let newcomer = Stack.freshID()
        #expect(try Stack.request("GET", Self.unknownTask, cookie: "SESSION=dev-user-\(newcomer)").code == 40100)
        try Stack.withDatabase { try $0.execute("INSERT INTO user (id, userAccount, userRole) VALUES (?, ?, 'user')",
                                                [.int(newcomer), .string("it-\(newcomer)")]) }
        let known = Stack.eventually(timeout: .seconds(10), "the newcomer to be logged in") { () -> Bool? in
            try Stack.request("GET", Self.unknownTask, cookie: "SESSION=dev-user-\(newcomer)").code == 40400 ? true : nil
        }
        #expect(known == true)

        let logs = ["fcgi", "fcgi-trusted", "nginx-error"].map {
            (try? String(contentsOfFile: "\(Stack.runDir)/log/\($0).log", encoding: .utf8)) ?? ""
        }.joined()
        #expect(!logs.isEmpty)
        #expect(!logs.contains(secret), "a cookie reached the logs")
    }

    @Test("DashScope refuses the create: each answer maps to the host's code, and nothing is stored",
          arguments: [(400, 40000), (401, 50000), (403, 50000), (429, 50001)])
    func createRefused(status: Int, code: Int64) throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let before = try Stack.devServerStats()["creates"]?.int64Value ?? 0
        let restore = try Stack.simConfig(#"{"create_error_status":\#(status)}"#)
        defer { _ = try? Stack.simConfig(restore) }
        let reply = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        #expect(reply.status == 200 && reply.code == code, "\(String(describing: reply.json))")
        let message = reply.json?["message"]?.stringValue ?? ""
        if status == 400 { #expect(message.contains("oss download error"), "DashScope's message is passed on: \(message)") }
        if status == 429 { #expect(message.contains("繁忙")) }
        let stored = try Stack.withDatabase {
            try $0.query("SELECT COUNT(*) AS n FROM out_painting_task WHERE pictureId = ?", [.int(f.picture)]).first?.int("n")
        }
        #expect(stored == 0)
        #expect(try Stack.devServerStats()["creates"]?.int64Value ?? 0 == before, "DashScope accepted nothing")
        if status == 401 {
            let log = try String(contentsOfFile: "\(Stack.runDir)/log/fcgi.log", encoding: .utf8)
            #expect(log.contains("DASHSCOPE_API_KEY"), "a loud log names the setting to check")
            #expect(!log.contains(Stack.env.string("DASHSCOPE_API_KEY", default: "sk-local-dev")), "the API key reached the logs")
        }
    }

    @Test("a 5xx after sending is unclear, not a refusal: the user is told so, and the submission is settled as not accepted",
          arguments: [500, 503])
    func createAnsweredServerError(status: Int) throws {
        // Both are told the outcome is unknown; one waits for the settlement (the same path for both).
        let waitsForSettlement = status == 500
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let before = try Stack.devServerStats()["creates"]?.int64Value ?? 0
        let restore = try Stack.simConfig(#"{"create_error_status":\#(status)}"#)
        defer { _ = try? Stack.simConfig(restore) }
        let reply = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        _ = try Stack.simConfig(restore)
        #expect(reply.status == 200 && reply.code == 50001 && (reply.json?["message"]?.stringValue ?? "").contains("结果未知"),
                "\(String(describing: reply.json))")
        #expect(try Stack.devServerStats()["creates"]?.int64Value ?? 0 == before, "DashScope accepted nothing")
        guard waitsForSettlement else { return }
        // DashScope's list has no task from that instant: the intent ends as not accepted (never a task, never paid).
        let settled = Stack.eventually(timeout: .seconds(60), "the unclear submission to be settled") { () -> String? in
            try Stack.withDatabase {
                try $0.query("SELECT taskStatus, errorCode FROM out_painting_task WHERE pictureId = ?", [.int(f.picture)]).first
                    .flatMap { $0["errorCode"] == "SubmissionNotAccepted" ? $0["taskStatus"] : nil }
            }
        }
        #expect(settled == "FAILED")
    }

    /// `count` fresh pictures of `owner` whose out-painting takes 0.5 s at the DevServer.
    static func pictures(_ count: Int, owner: Int64) throws -> [Int64] {
        try Stack.withDatabase { db in
            try (0..<count).map { _ -> Int64 in
                let id = Stack.freshID()
                try db.execute("INSERT INTO picture (id, url, name, userId) VALUES (?, ?, 'fault', ?)",
                               [.int(id), .string("\(Stack.devServer)/images/f.png?sim_duration_ms=500"), .int(owner)])
                return id
            }
        }
    }

    /// `count` users, each with one fresh picture taking 0.5 s at the DevServer (a user may start
    /// only a couple of creates at once: these tests are about the account's limits, not a user's).
    /// Each is logged in already (their first requests at once would meet LOGIN_MAX_CONCURRENT).
    static func usersWithPictures(_ count: Int) throws -> [(picture: Int64, cookie: String)] {
        let users = try Stack.withDatabase { db in
            try (0..<count).map { _ in
                let user = Stack.freshID(), picture = Stack.freshID()
                try db.execute("INSERT INTO user (id, userAccount, userName, userRole) VALUES (?, ?, 'it user', 'user')",
                               [.int(user), .string("it-\(user)")])
                try db.execute("INSERT INTO picture (id, url, name, userId) VALUES (?, ?, 'fault', ?)",
                               [.int(picture), .string("\(Stack.devServer)/images/f.png?sim_duration_ms=500"), .int(user)])
                return (picture: picture, cookie: "SESSION=dev-user-\(user)")
            }
        }
        for user in users { _ = try Stack.request("GET", Self.unknownTask, cookie: user.cookie) }
        return users
    }

    @Test("a burst of creates is queued to DashScope's 2 submissions/s: every one accepted, none answered 429")
    func burstOfCreatesIsPaced() throws {
        try Stack.waitAnswering()
        let pictures = try Self.usersWithPictures(10)
        let restore = try Stack.simConfig(#"{"create_qps_limit":2}"#)  // DashScope's documented quota
        defer { _ = try? Stack.simConfig(restore) }
        let throttledBefore = try Stack.devServerStats()["create_throttled"]?.int64Value ?? 0
        // Ten at once: unpaced, eight of them would meet a 429 in the first second.
        let replies = try concurrently(pictures.count) { i in
            try Stack.create(cookie: pictures[i].cookie, body: #"{"pictureId":\#(pictures[i].picture)}"#)
        }
        #expect(replies.allSatisfy { $0.code == 0 }, "\(replies.map { String(describing: $0.json) })")
        #expect(try Stack.devServerStats()["create_throttled"]?.int64Value ?? 0 == throttledBefore)
    }

    @Test("a slow DashScope takes at most the create slots; get_task is answered meanwhile")
    func slowDashScopeLeavesWorkersForGetTask() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let pictures = try Self.usersWithPictures(16)
        let restore = try Stack.simConfig(#"{"latency_ms":3000,"create_qps_limit":0}"#)
        defer { _ = try? Stack.simConfig(restore) }
        let started = Date()
        // 16 creates and, once the slots' worth of them wait on DashScope, 8 get_task calls.
        let replies = try concurrently(pictures.count + 8) { i in
            if i < pictures.count {
                return try Stack.create(cookie: pictures[i].cookie, body: #"{"pictureId":\#(pictures[i].picture)}"#)
            }
            _ = Stack.eventually(timeout: .seconds(10), every: .milliseconds(50), "creates waiting on DashScope") {
                try Stack.devServerStats()["creates_in_flight"]?.int64Value.flatMap { $0 >= 4 ? true : nil }
            }
            return try Stack.request("GET", Self.unknownTask, cookie: f.ownerCookie)
        }
        let creates = replies.prefix(pictures.count), gets = replies.dropFirst(pictures.count)
        let busy = creates.filter { $0.code == 50001 }.count, ok = creates.filter { $0.code == 0 }.count
        #expect(busy + ok == creates.count, "\(creates.map { String(describing: $0.code) })")
        #expect(busy > 0, "more creates than slots, all accepted")
        #expect(gets.allSatisfy { $0.code == 40400 })
        print("slow DashScope: \(ok) creates accepted, \(busy) answered busy; 8 get_task answered; \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    @Test("MariaDB down, then hung: requests fail fast with 50000 and recover by themselves")
    func mysqlDownAndHung() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let supervisor = try #require(Stack.pid("mariadb.supervisor"))
        // Warm the login cache (5 s): from here on only FcgiApp's own MySQL use is in the way.
        #expect(try Stack.request("GET", Self.unknownTask, cookie: f.ownerCookie).code == 40400)

        // Down: the supervisor is held so that MariaDB stays dead until the test lets it restart.
        kill(supervisor, SIGSTOP)
        let mariadb = try Stack.signal("mariadb", SIGKILL)
        let down = try Stack.request("GET", Self.unknownTask, cookie: f.ownerCookie)
        kill(supervisor, SIGCONT)
        #expect(down.status == 200 && down.code == 50000, "\(String(describing: down.json))")
        try Stack.waitBack(.mariadb, oldPid: mariadb)
        _ = Stack.eventually(timeout: .seconds(30), "FcgiApp to recover from MariaDB down") { () -> Bool? in
            try Stack.request("GET", Self.unknownTask, cookie: f.ownerCookie).code == 40400 ? true : nil
        }

        // Hung: the server process is stopped, connections stay open and silent.
        #expect(try Stack.request("GET", Self.unknownTask, cookie: f.ownerCookie).code == 40400)
        let hung = try Stack.signal("mariadb", SIGSTOP)
        let started = Date()
        let reply = try Stack.request("GET", Self.unknownTask, cookie: f.ownerCookie)
        let waited = Date().timeIntervalSince(started)
        kill(hung, SIGCONT)
        #expect(reply.status == 200 && reply.code == 50000, "\(String(describing: reply.json))")
        print("MariaDB hung: get_task answered 50000 after \(String(format: "%.1f", waited)) s")
        _ = Stack.eventually(timeout: .seconds(30), "FcgiApp to recover from MariaDB hung") { () -> Bool? in
            try Stack.request("GET", Self.unknownTask, cookie: f.ownerCookie).code == 40400 ? true : nil
        }
    }

    @Test("Kafka unreachable at create: the task is stored and answered, then followed to its end")
    func kafkaDownAtCreate() async throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture(durationMs: 1000)
        let broker = try #require(Stack.pid("broker"))
        kill(broker, SIGSTOP)
        let reply: Stack.Reply
        do {
            defer { kill(broker, SIGCONT) }
            reply = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#)
        }
        let taskId = try #require(reply.data?["output"]?["taskId"]?.stringValue, "\(String(describing: reply.json))")
        #expect(reply.code == 0)
        #expect(try Stack.row(taskId) != nil, "stored before the answer")
        let final = try Stack.waitAllFinal([Stack.Created(taskId: taskId, expected: .succeeded)], timeout: .seconds(60))
        #expect(final?[taskId] == .succeeded)
        try await Stack.waitGroupConsumesAllPartitions()
    }
}
}


extension Integration {
/// LOGIN_MODE=trusted-param behind nginx/outpainting-trusted.conf (the stack's second nginx server):
/// identity comes from nginx's auth_request, and nothing a client sends can stand in for it.
@Suite("trusted-param login mode through nginx auth_request")
struct TrustedModeTests {
    static let path = "/api/picture/out_painting/get_task?taskId="

    @Test("the same answers as cookie mode for each user; client identity headers count for nothing")
    func sameAnswersAsCookieMode() throws {
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        let created = try Stack.create(cookie: f.ownerCookie, body: #"{"pictureId":\#(f.picture)}"#, headers: [])
        let taskId = try #require(created.data?["output"]?["taskId"]?.stringValue)
        let forged = [("X-User-Id", "\(f.owner)"), ("X-User-Role", "admin"), ("OUTPAINTING_USER_ID", "\(f.owner)"),
                      ("Outpainting-User-Id", "\(f.owner)"), ("X-Forwarded-User", "\(f.owner)")]
        for (who, cookie) in [("owner", f.ownerCookie as String?), ("admin", f.adminCookie), ("stranger", f.strangerCookie),
                              ("nobody", nil), ("forged session", "SESSION=dev-user-abc")] {
            let viaCookie = try Stack.request("GET", Self.path + taskId, cookie: cookie)
            let trusted = try Stack.request("GET", Self.path + taskId, cookie: cookie, via: Stack.nginxTrusted)
            let trustedForged = try Stack.request("GET", Self.path + taskId, cookie: cookie, headers: forged, via: Stack.nginxTrusted)
            #expect(trusted.status == 200 && trusted.code == viaCookie.code, "\(who): \(String(describing: trusted.json)) vs \(String(describing: viaCookie.json))")
            #expect(trustedForged.code == viaCookie.code, "\(who) with forged identity headers")
            #expect(viaCookie.code != nil)
        }
        #expect(try Stack.request("GET", Self.path + taskId, cookie: nil, via: Stack.nginxTrusted).code == 40100)

        // A create through the trusted path is stored for the user nginx vouched for.
        let g = try Stack.fixture()
        let made = try Stack.request("POST", "/api/picture/out_painting/create_task", cookie: g.ownerCookie,
                                     body: #"{"pictureId":\#(g.picture)}"#, headers: forged, via: Stack.nginxTrusted)
        let madeID = try #require(made.data?["output"]?["taskId"]?.stringValue, "\(String(describing: made.json))")
        #expect(try Stack.row(madeID)?.userId == g.owner)
    }

    @Test("kept-alive upstream connections beyond the responder's threads never stall it",
          .timeLimit(.minutes(2)))
    func keptAliveConnectionsDoNotPinThreads() throws {
        // The trusted server's FcgiApp has 4 worker threads and nginx keeps up to 16 connections to
        // it: with libfcgi serving each connection on its thread until it closes, the 5th request
        // would wait for a connection nginx never closes. Three waves, so that later waves meet
        // the connections the earlier ones left idle.
        try Stack.waitAnswering()
        let f = try Stack.fixture()
        for wave in 1...3 {
            let codes = try concurrently(24) { _ in
                try Stack.request("GET", Self.path + "no-such-task", cookie: f.ownerCookie, via: Stack.nginxTrusted).code
            }
            #expect(codes.allSatisfy { $0 == 40400 }, "wave \(wave): \(codes)")
        }
    }

    @Test("the host's auth endpoint down or slow → 50000 envelope")
    func authDown() throws {
        let f = try Stack.fixture()
        for settings in [#"{"login_status":503}"#, #"{"login_latency_ms":3000}"#] {
            let restore = try Stack.simConfig(settings)
            defer { _ = try? Stack.simConfig(restore) }
            let reply = try Stack.request("GET", Self.path + "x", cookie: f.ownerCookie, via: Stack.nginxTrusted)
            #expect(reply.status == 200 && reply.code == 50000, "\(settings): \(reply.status) \(String(describing: reply.json))")
        }
    }
}
}
