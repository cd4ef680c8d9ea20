import Foundation
import Testing
@testable import Common

extension Integration {
/// The account's one sweeper on the real stack: handed over when its holder dies, replaced by
/// per-task polling when the list query fails, and within the quota when the account allows less
/// than it is configured for.
@Suite("sweeps: one sweeper per account, fallback, a shared quota")
struct SweepTests {
    static var quotaKey: String { QuotaRepository.quotaKey(apiKey: Stack.env.string("DASHSCOPE_API_KEY", default: "sk-local-dev")) }

    static func lease() throws -> (holder: String, held: Bool, handovers: Int64)? {
        try Stack.withDatabase { try SweeperRepository.lease($0, key: quotaKey) }
    }

    static func health() throws -> SweepHealth {
        try Stack.withDatabase { try SweeperRepository.health($0, key: quotaKey) }
    }

    /// The pid in a lease holder "host:pid:random".
    static func pid(ofHolder holder: String) -> Int32? {
        let parts = holder.split(separator: ":")
        return parts.count >= 3 ? Int32(parts[parts.count - 2]) : nil
    }

    /// Task end (DashScope's end_time, UTC+8) → the row's final write, in seconds, sorted.
    static func detectionDelays(_ tasks: [Stack.Created]) throws -> [Double] {
        try Stack.withDatabase { db in
            try db.query("""
                SELECT TIMESTAMPDIFF(MICROSECOND, CONVERT_TZ(endTime, '+08:00', '+00:00'), lastCheckTime) / 1000000 AS s
                FROM out_painting_task WHERE taskId IN (\(Array(repeating: "?", count: tasks.count).joined(separator: ",")))
                """, tasks.map { .string($0.taskId) }).compactMap { $0["s"].flatMap(Double.init) }.sorted()
        }
    }

    static func describe(_ delays: [Double]) -> String {
        guard !delays.isEmpty else { return "none" }
        return String(format: "p50 %.2f s, max %.2f s", delays[delays.count / 2], delays[delays.count - 1])
    }

    static func stat(_ stats: JSONValue, _ name: String) -> Int64 { stats[name]?.int64Value ?? 0 }

    @Test("three instances, one sweeper: killed, another takes over within seconds and every task still finishes")
    func oneSweeperHandedOver() throws {
        let extra = try (1...2).map { try Stack.startExtraPoller(number: $0) }
        defer { extra.forEach { $0.process.terminate(); $0.process.waitUntilExit() } }
        let urls = [Stack.stackPollerHealthURL] + extra.map(\.healthURL)
        for url in urls {
            _ = Stack.eventually(timeout: .seconds(60), "Poller \(url) to run") { try Stack.pollerHealth(url)["status"]?.stringValue == "ok" ? true : nil }
        }
        // At every sample, at most one of the three holds the lease; and one does.
        var holders: [Int] = []
        for _ in 0..<10 {
            let count = try urls.map { try Stack.pollerHealth($0)["sweeper"] == .bool(true) ? 1 : 0 }.reduce(0, +)
            holders.append(count)
        }
        #expect(holders.allSatisfy { $0 <= 1 }, "instances holding the lease at each sample: \(holders)")
        let before = try #require(try Self.lease())
        #expect(before.held)

        let tasks = try Stack.createTasks(30, durations: 2000...6000, failEvery: 5)
        try Stack.waitUnderWay(tasks)
        let holderPid = try #require(Self.pid(ofHolder: before.holder), "holder \(before.holder)")
        let killedAt = Date()
        kill(holderPid, SIGKILL)
        let after = Stack.eventually(timeout: .seconds(30), "another instance to take the sweeper lease") { () -> String? in
            guard let lease = try Self.lease(), lease.held, lease.holder != before.holder else { return nil }
            return lease.holder
        }
        let handover = Date().timeIntervalSince(killedAt)
        #expect(after != nil)
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(90))
        Stack.expectRightOutcomes(tasks, final)
        print("sweeper handover: \(String(format: "%.1f", handover)) s after kill -9 (lease \(Stack.env.string("POLLER_SWEEPER_LEASE_MS", default: "3000")) ms); "
              + "task end → row final \(Self.describe(try Self.detectionDelays(tasks)))")
        // The stack's own Poller may have been the one killed: its supervisor restarts it.
        if let stackPid = Stack.pid("poller"), stackPid == holderPid { try Stack.waitBack(.poller, oldPid: holderPid) }
    }

    @Test("the list query failing: the sweep turns stale, each Poller polls its own tasks, every task finishes")
    func listFailingFallsBack() throws {
        let restore = try Stack.simConfig(#"{"list_error_status":500}"#)
        defer { _ = try? Stack.simConfig(restore) }
        let staleAfter = Duration.milliseconds(Int64(Stack.env.string("POLLER_SWEEP_STALE_MS", default: "5000")) ?? 5000)
        _ = Stack.eventually(timeout: .seconds(30), "the sweep to turn stale") { try Self.health().isFresh(staleAfter: staleAfter) ? nil : true }
        let before = try Stack.devServerStats()
        let tasks = try Stack.createTasks(15, durations: 1000...4000)
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(90))
        Stack.expectRightOutcomes(tasks, final)
        let after = try Stack.devServerStats()
        let singles = Self.stat(after, "single_queries") - Self.stat(before, "single_queries")
        #expect(singles >= Int64(tasks.count), "every task needed at least one single query: \(singles)")
        print("list failing: \(tasks.count) tasks by per-task polling, \(singles) single queries; "
              + "task end → row final \(Self.describe(try Self.detectionDelays(tasks)))")
        _ = try Stack.simConfig(restore)
        _ = Stack.eventually(timeout: .seconds(30), "the sweep to be fresh again") { try Self.health().isFresh(staleAfter: staleAfter) ? true : nil }
    }

    @Test("the account allows half the configured query rate: 429s stay at most 1 % of queries and every task finishes")
    func halfRateAccount() throws {
        // Configured for a quota of 40 queries/s; another application of the same account takes
        // half of it. Nobody lowers a setting. (Twice DashScope's 20/s, so the run takes half as long.)
        try Stack.withDatabase { db in
            try db.execute("UPDATE outpainting_query_quota SET accountQPS = 40, ratePerSecond = configuredRate, ceilingRate = NULL")
        }
        let restore = try Stack.simConfig(#"{"query_qps_limit":20,"max_running":0}"#)
        defer {
            _ = try? Stack.simConfig(restore)
            _ = try? Stack.withDatabase { try $0.execute("UPDATE outpainting_query_quota SET accountQPS = 20") }
        }
        let before = try Stack.devServerStats()
        let tasks = try Stack.createTasks(300, durations: 1000...4000, failEvery: 10)
        let final = try Stack.waitAllFinal(tasks, timeout: .seconds(180))
        let after = try Stack.devServerStats()
        Stack.expectRightOutcomes(tasks, final)
        let queries = Self.stat(after, "queries") - Self.stat(before, "queries")
        let throttled = Self.stat(after, "throttled") - Self.stat(before, "throttled") - (Self.stat(after, "create_throttled") - Self.stat(before, "create_throttled"))
        print("half-rate account: \(tasks.count) tasks, \(queries) queries (\(String(format: "%.2f", Double(queries) / Double(tasks.count))) per task), "
              + "\(throttled) answered 429 (\(String(format: "%.2f", 100 * Double(throttled) / Double(max(queries, 1)))) %); "
              + "task end → row final \(Self.describe(try Self.detectionDelays(tasks)))")
        #expect(Double(throttled) <= 0.01 * Double(queries), "\(throttled) 429s of \(queries) queries")
    }
}
}
