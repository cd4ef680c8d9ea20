import Testing
@testable import Common

/// The account sweeper's decisions, driven without sockets: events in, actions out.
@Suite("the account sweeper's state machine")
struct AccountSweeperTests {
    static let settings = AccountSweeper.Settings(budgetShare: 0.1, intervalFloor: .milliseconds(250), intervalCeiling: .seconds(3),
                                                  pendingBudgetShare: 0.05, pendingPassInterval: .seconds(30),
                                                  runningRecheck: .seconds(600), suspectRecheck: .seconds(30),
                                                  clockSlack: .seconds(5), listRetry: .seconds(1), listRetryCap: .seconds(8),
                                                  fetchBatch: 8, lookupLimit: 100)
    static let rate = 15.0  // queries/s: 10 % share → 1.5/s → a 1-page sweep every 667 ms
    static let epoch: Int64 = 1_800_000_000_000

    func running(_ id: String, submitted: Int64? = nil) -> AccountSweeper.Listed {
        AccountSweeper.Listed(taskId: id, status: .running, submittedAtEpochMs: submitted)
    }

    /// A holder at `now` whose first RUNNING sweep (of `ids`, all ours) is done.
    func holder(sweeping ids: [String], now: Int64 = 0) -> AccountSweeper {
        var s = AccountSweeper(settings: Self.settings)
        s.leaseAcquired(runningRows: [], now: now)
        #expect(s.next(now: now, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        _ = s.runningListed(page: 1, totalPages: 1, entries: ids.map { running($0) }, ours: Set(ids), now: now,
                            nowEpochMs: Self.epoch, queryRate: Self.rate)
        return s
    }

    @Test("without the lease nothing is asked; with it the previous holder's RUNNING rows are the diff's base; losing it forgets all")
    func lease() {
        var s = AccountSweeper(settings: Self.settings)
        #expect(s.next(now: 0, nowEpochMs: Self.epoch, queryRate: Self.rate) == .wait(until: .max))
        s.leaseAcquired(runningRows: ["a", "b"], now: 0)
        #expect(s.next(now: 0, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        // "b" finished during the handover: the first sweep no longer shows it.
        _ = s.runningListed(page: 1, totalPages: 1, entries: [running("a")], ours: ["a"], now: 10, nowEpochMs: Self.epoch,
                            queryRate: Self.rate)
        #expect(s.next(now: 10, nowEpochMs: Self.epoch, queryRate: Self.rate) == .fetch(["b"]))
        s.leaseLost()
        #expect(!s.holding && s.runningTaskIDs.isEmpty)
        #expect(s.next(now: 20, nowEpochMs: Self.epoch, queryRate: Self.rate) == .wait(until: .max))
    }

    @Test("a task that left RUNNING gets one GET, before the next sweep and before other fetches")
    func diff() {
        var s = holder(sweeping: ["a", "b", "c"])
        s.suspectsFound(["older"], now: 600)  // queued before the sweep, fetched after the tasks that left RUNNING
        let effects = s.runningListed(page: 1, totalPages: 1, entries: [running("a"), running("x")], ours: ["a"],
                                      now: 700, nowEpochMs: Self.epoch, queryRate: Self.rate)
        // Only our tasks are stamped as seen; "x" belongs to another application of the account.
        #expect(effects.store.map(\.view.taskId) == ["a"] && effects.store.allSatisfy(\.fromList))
        #expect(s.next(now: 700, nowEpochMs: Self.epoch, queryRate: Self.rate) == .fetch(["b", "c", "older"]))
    }

    @Test("the fetch answer is stored as a check; a final one leaves the running set, a failed one is retried later")
    func fetchAnswers() {
        var s = holder(sweeping: ["a", "b"])
        _ = s.runningListed(page: 1, totalPages: 1, entries: [], ours: [], now: 700, nowEpochMs: Self.epoch, queryRate: Self.rate)
        guard case .fetch(let ids) = s.next(now: 700, nowEpochMs: Self.epoch, queryRate: Self.rate) else {
            Issue.record("expected a fetch"); return
        }
        #expect(Set(ids) == ["a", "b"])
        let failure = DashScopeError(kind: .server, httpStatus: 500, code: nil, message: nil, requestId: nil, retryAfterSeconds: nil)
        let effects = s.fetched([("a", .success(DashScopeTaskView(taskId: "a", status: .succeeded, outputImageUrl: "u"))),
                                 ("b", .failure(failure))], now: 710)
        #expect(effects.store.map(\.view.taskId) == ["a"] && !effects.store[0].fromList)
        #expect(s.runningTaskIDs.isEmpty)
        // "b" comes back after the retry delay (1 s), not at once.
        #expect(s.next(now: 720, nowEpochMs: Self.epoch, queryRate: Self.rate) != .fetch(["b"]))
        #expect(s.next(now: 1710, nowEpochMs: Self.epoch, queryRate: Self.rate) == .fetch(["b"]))
    }

    @Test("pacing: the interval is pages ÷ (share × the account's current rate), within the floor and the ceiling")
    func pacing() {
        let s = AccountSweeper(settings: Self.settings)
        #expect(s.sweepInterval(queryRate: 15) == .milliseconds(667))
        #expect(s.sweepInterval(queryRate: 7.5) == .milliseconds(1334), "half the rate (after 429s): twice the interval")
        #expect(s.sweepInterval(queryRate: 200) == .milliseconds(250), "a large account: the floor")
        #expect(s.sweepInterval(queryRate: 0.5) == .seconds(3), "a starved account: the ceiling")
        var large = holder(sweeping: [])
        for page in 1...10 {
            _ = large.next(now: 700, nowEpochMs: Self.epoch, queryRate: 15)
            _ = large.runningListed(page: page, totalPages: 10, entries: [], ours: [], now: 700, nowEpochMs: Self.epoch, queryRate: 0.5)
        }
        #expect(large.sweepInterval(queryRate: 0.5) == .seconds(30), "ten pages: the ceiling holds per page, the share still binds")
        var busy = holder(sweeping: [])
        _ = busy.runningListed(page: 1, totalPages: 2, entries: [], ours: [], now: 700, nowEpochMs: Self.epoch, queryRate: 15)
        #expect(busy.next(now: 700, nowEpochMs: Self.epoch, queryRate: 15) == .listRunning(page: 2))
        let done = busy.runningListed(page: 2, totalPages: 2, entries: [], ours: [], now: 710, nowEpochMs: Self.epoch, queryRate: 15)
        #expect(done.sweptWithInterval == .milliseconds(1334), "two pages a sweep: twice the interval")
    }

    @Test("the next sweep waits for its interval; a PENDING pass comes in between, paced by its own share")
    func schedule() {
        var s = holder(sweeping: [])
        // After the first sweep (at 0) the PENDING pass starts; its next page waits 1 / (5 % × 15) = 1334 ms.
        #expect(s.next(now: 1, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listPending(page: 1))
        let first = s.pendingListed(page: 1, totalPages: 3, entries: [AccountSweeper.Listed(taskId: "p", status: .pending,
                                                                                             submittedAtEpochMs: nil)],
                                    ours: ["p"], now: 2, queryRate: Self.rate)
        #expect(first.store.map(\.view.status) == [.pending] && first.findUnseen == nil)
        #expect(s.next(now: 3, nowEpochMs: Self.epoch, queryRate: Self.rate) == .wait(until: 667))
        #expect(s.next(now: 667, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        _ = s.runningListed(page: 1, totalPages: 1, entries: [], ours: [], now: 668, nowEpochMs: Self.epoch, queryRate: Self.rate)
        // The RUNNING sweep (due at 1335) goes before the PENDING page (due at 1336).
        #expect(s.next(now: 1336, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        _ = s.runningListed(page: 1, totalPages: 1, entries: [], ours: [], now: 1336, nowEpochMs: Self.epoch, queryRate: Self.rate)
        #expect(s.next(now: 1337, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listPending(page: 2))
        // An empty page ends the pass early (the queue got shorter): the tasks it did not see are asked for.
        let end = s.pendingListed(page: 2, totalPages: 3, entries: [], ours: [], now: 1337, queryRate: Self.rate)
        #expect(end.findUnseen != nil)
    }

    @Test("a finished PENDING pass asks for our PENDING rows it did not see, and the next pass waits its interval")
    func pendingPassEnd() {
        var s = holder(sweeping: [])
        #expect(s.next(now: 1, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listPending(page: 1))
        let end = s.pendingListed(page: 1, totalPages: 1, entries: [], ours: [], now: 5, queryRate: Self.rate)
        #expect(end.findUnseen?.seenSince == Self.epoch)
        #expect(end.findUnseen?.createdBefore == Self.epoch - 5000)
        s.unseenFound(["lost"])
        #expect(s.next(now: 6, nowEpochMs: Self.epoch, queryRate: Self.rate) == .fetch(["lost"]))
        _ = s.fetched([("lost", .success(DashScopeTaskView(taskId: "lost", status: .failed)))], now: 7)
        // The next pass not before 30 s after this one ended.
        #expect(s.next(now: 20_000, nowEpochMs: Self.epoch, queryRate: Self.rate) != .listPending(page: 1))
        #expect(s.next(now: 30_006, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
    }

    @Test("FIFO head: when a newer task runs, our older PENDING rows are suspects; one found still PENDING is not asked again soon")
    func suspects() {
        var s = holder(sweeping: [])
        let effects = s.runningListed(page: 1, totalPages: 1, entries: [running("x", submitted: Self.epoch - 1000)], ours: [],
                                      now: 700, nowEpochMs: Self.epoch, queryRate: Self.rate)
        #expect(effects.findSuspectsCreatedBefore == Self.epoch - 1000 - 5000)
        s.suspectsFound(["old", "x"], now: 701)
        #expect(s.next(now: 701, nowEpochMs: Self.epoch, queryRate: Self.rate) == .fetch(["old", "x"]))
        _ = s.fetched([("old", .success(DashScopeTaskView(taskId: "old", status: .pending))),
                       ("x", .success(DashScopeTaskView(taskId: "x", status: .running)))], now: 702)
        #expect(s.runningTaskIDs == ["x"])
        s.suspectsFound(["old"], now: 800)
        #expect(s.next(now: 800, nowEpochMs: Self.epoch, queryRate: Self.rate) != .fetch(["old"]), "confirmed PENDING 0.1 s ago")
        s.suspectsFound(["old"], now: 40_000)
        #expect(s.next(now: 40_000, nowEpochMs: Self.epoch, queryRate: Self.rate) == .fetch(["old"]))
        // The head only moves forward: an older running task asks nothing new.
        let again = s.runningListed(page: 1, totalPages: 1, entries: [running("y", submitted: Self.epoch - 9000)], ours: [],
                                    now: 40_001, nowEpochMs: Self.epoch, queryRate: Self.rate)
        #expect(again.findSuspectsCreatedBefore == nil)
    }

    @Test("a failing list: no sweep is recorded (the owners' sweep turns stale and they poll), retries back off, a 429 pauses all")
    func listFailure() {
        var s = holder(sweeping: ["a"])
        #expect(s.next(now: 667, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        s.listFailed(running: true, throttledPause: nil, now: 667)
        #expect(s.next(now: 1000, nowEpochMs: Self.epoch, queryRate: Self.rate) != .listRunning(page: 1))
        #expect(s.next(now: 1667, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        s.listFailed(running: true, throttledPause: nil, now: 1667)
        #expect(s.next(now: 2667, nowEpochMs: Self.epoch, queryRate: Self.rate) != .listRunning(page: 1), "doubled: 2 s")
        #expect(s.next(now: 3667, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        s.listFailed(running: true, throttledPause: .seconds(10), now: 3667)
        #expect(s.next(now: 8000, nowEpochMs: Self.epoch, queryRate: Self.rate) == .wait(until: 13_667))
        // The running set survives failures: when the list answers again, a task that left is still fetched.
        #expect(s.next(now: 13_667, nowEpochMs: Self.epoch, queryRate: Self.rate) == .listRunning(page: 1))
        let effects = s.runningListed(page: 1, totalPages: 1, entries: [], ours: [], now: 13_668, nowEpochMs: Self.epoch,
                                      queryRate: Self.rate)
        #expect(effects.sweptWithInterval != nil)
        #expect(s.next(now: 13_668, nowEpochMs: Self.epoch, queryRate: Self.rate) == .fetch(["a"]))
    }

    @Test("a task listed RUNNING for very long gets a GET now and then (a list that lags behind the task)")
    func runningRecheck() {
        var s = holder(sweeping: ["slow"])
        var now: Int64 = 0
        var fetched = 0
        while now < 1_300_000 {
            now += 1000
            switch s.next(now: now, nowEpochMs: Self.epoch, queryRate: Self.rate) {
            case .listRunning(let page):
                _ = s.runningListed(page: page, totalPages: 1, entries: [running("slow")], ours: ["slow"], now: now,
                                    nowEpochMs: Self.epoch, queryRate: Self.rate)
            case .fetch(let ids):
                fetched += ids.count
                _ = s.fetched(ids.map { ($0, .success(DashScopeTaskView(taskId: $0, status: .running))) }, now: now)
            case .listPending(let page):
                _ = s.pendingListed(page: page, totalPages: 1, entries: [], ours: [], now: now, queryRate: Self.rate)
            case .wait:
                break
            }
        }
        #expect(fetched == 2, "one GET per 600 s listed RUNNING")
    }
}

@Suite("the sweep's freshness, as owners and FcgiApp judge it")
struct SweepHealthTests {
    @Test("fresh while younger than the threshold and four intervals; never swept is stale")
    func freshness() {
        #expect(!SweepHealth.none.isFresh(staleAfter: .seconds(5)))
        #expect(SweepHealth(sinceLastSweepMs: 4000, intervalMs: 700, lastPendingPassMs: 0).isFresh(staleAfter: .seconds(5)))
        #expect(!SweepHealth(sinceLastSweepMs: 6000, intervalMs: 700, lastPendingPassMs: 0).isFresh(staleAfter: .seconds(5)))
        #expect(SweepHealth(sinceLastSweepMs: 60_000, intervalMs: 20_000, lastPendingPassMs: 0).isFresh(staleAfter: .seconds(5)),
                "events mode sweeps every 20 s")
    }

    @Test("the owners' unseen safety net waits at least two PENDING passes")
    func unseen() {
        #expect(SweepHealth(sinceLastSweepMs: 0, intervalMs: 700, lastPendingPassMs: 10_000).unseenRecheckMs(unseenAfter: .seconds(120)) == 120_000)
        #expect(SweepHealth(sinceLastSweepMs: 0, intervalMs: 700, lastPendingPassMs: 90_000).unseenRecheckMs(unseenAfter: .seconds(120)) == 180_000)
    }
}
