import Testing
@testable import Common

@Suite("the in-memory schedule of followed tasks")
struct TaskTrackerTests {
    @Test("due tasks come out earliest first; a task not due never blocks the ones behind it")
    func ordering() {
        var t = TaskTracker()
        t.follow(taskId: "late", partition: 0, dueAt: 5000, checks: 0, deadlineAt: 1_000_000)
        t.follow(taskId: "early", partition: 0, dueAt: 100, checks: 0, deadlineAt: 1_000_000)
        t.follow(taskId: "mid", partition: 1, dueAt: 200, checks: 0, deadlineAt: 1_000_000)
        #expect(t.nextDueAt() == 100)
        #expect(t.takeDue(now: 300, limit: 10).map(\.taskId) == ["early", "mid"])
        #expect(t.nextDueAt() == 5000)
        #expect(t.takeDue(now: 300, limit: 10).isEmpty)
    }

    @Test("the limit caps a round; the rest stay due")
    func limit() {
        var t = TaskTracker()
        for i in 0..<5 { t.follow(taskId: "t\(i)", partition: 0, dueAt: Int64(i), checks: 0, deadlineAt: 100) }
        #expect(t.takeDue(now: 10, limit: 2).map(\.taskId) == ["t0", "t1"])
        #expect(t.takeDue(now: 10, limit: 10).map(\.taskId) == ["t2", "t3", "t4"])
    }

    @Test("duplicate follow keeps the first schedule; reschedule replaces it")
    func duplicatesAndReschedule() {
        var t = TaskTracker()
        let added = t.follow(taskId: "a", partition: 0, dueAt: 100, checks: 2, deadlineAt: 1000)
        let addedAgain = t.follow(taskId: "a", partition: 0, dueAt: 0, checks: 0, deadlineAt: 1000)
        #expect(added && !addedAgain)
        let due = t.takeDue(now: 100, limit: 10)
        #expect(due.map(\.checks) == [2])
        t.reschedule(taskId: "a", dueAt: 400, checks: 3)
        #expect(t.takeDue(now: 399, limit: 10).isEmpty)
        #expect(t.takeDue(now: 400, limit: 10).map(\.checks) == [3])
        #expect(t.count == 1)
    }

    @Test("an in-flight task is not handed out twice")
    func inFlight() {
        var t = TaskTracker()
        t.follow(taskId: "a", partition: 0, dueAt: 0, checks: 0, deadlineAt: 1000)
        #expect(t.takeDue(now: 0, limit: 10).count == 1)
        #expect(t.takeDue(now: 10_000, limit: 10).isEmpty)
        #expect(t.nextDueAt() == nil)
    }

    @Test("a finished task found early is taken at once; a hint pulls a waiting task forward")
    func takeAndPullForward() {
        var t = TaskTracker()
        t.follow(taskId: "a", partition: 0, dueAt: 10_000, checks: 1, deadlineAt: 100_000, createdAtEpochMs: 500)
        t.follow(taskId: "b", partition: 0, dueAt: 10_000, checks: 1, deadlineAt: 100_000, createdAtEpochMs: 300)
        #expect(t.oldestCreatedAtEpochMs == 300)
        #expect(t.take(taskIds: ["a", "zzz"]).map(\.taskId) == ["a"])
        #expect(t.take(taskIds: ["a"]).isEmpty)
        #expect(t.waitingTaskIDs == ["b"])
        let pulled = t.pullForward("b", now: 50)
        let pulledAgain = t.pullForward("b", now: 50)
        #expect(pulled && !pulledAgain)
        #expect(t.takeDue(now: 50, limit: 10).map(\.taskId) == ["b"])
        // The stale heap item of "a" never resurfaces.
        #expect(t.takeDue(now: 20_000, limit: 10).isEmpty)
    }

    @Test("a revoked partition's tasks are dropped; forget stops following")
    func dropAndForget() {
        var t = TaskTracker()
        t.follow(taskId: "a", partition: 0, dueAt: 0, checks: 0, deadlineAt: 1000)
        t.follow(taskId: "b", partition: 1, dueAt: 0, checks: 0, deadlineAt: 1000)
        t.follow(taskId: "c", partition: 1, dueAt: 0, checks: 0, deadlineAt: 1000)
        #expect(t.drop(partition: 1) == 2)
        #expect(t.takeDue(now: 0, limit: 10).map(\.taskId) == ["a"])
        t.forget("a")
        #expect(t.count == 0 && !t.isFollowing("a"))
    }
}

@Suite("back-off and the check decision")
struct CheckDecisionTests {
    let schedule = BackoffSchedule(firstCheck: .seconds(1), initial: .seconds(1), multiplier: 2, cap: .seconds(5), jitter: 0)

    @Test("exponential, capped")
    func exponential() {
        let delays = (1...6).map { schedule.delayMilliseconds(afterChecks: $0, random: 0.5) }
        #expect(delays == [1000, 2000, 4000, 5000, 5000, 5000])
    }

    @Test("jitter stays within ±jitter of the delay")
    func jitter() {
        let s = BackoffSchedule(initial: .seconds(2), multiplier: 1, cap: .seconds(10), jitter: 0.2)
        #expect(s.delayMilliseconds(afterChecks: 1, random: 0) == 1600)
        #expect(s.delayMilliseconds(afterChecks: 1, random: 0.999_999) == 2399)
    }

    func view(_ status: TaskStatus) -> Result<DashScopeTaskView, DashScopeError> {
        .success(DashScopeTaskView(taskId: "t", status: status))
    }

    func failure(_ kind: DashScopeError.Kind, retryAfter: Double? = nil) -> Result<DashScopeTaskView, DashScopeError> {
        .failure(DashScopeError(kind: kind, httpStatus: kind == .throttled ? 429 : 500, code: nil, message: nil,
                                requestId: nil, retryAfterSeconds: retryAfter))
    }

    @Test("final statuses finish; running ones are rescheduled by back-off")
    func statuses() {
        for s in [TaskStatus.succeeded, .failed, .canceled] {
            #expect(CheckDecision.decide(checks: 0, deadlineAt: 10, now: 0, result: view(s), backoff: schedule, random: 0) == .finished(s))
        }
        // UNKNOWN is not final on first sight: stored, asked again on the PENDING schedule.
        #expect(CheckDecision.decide(checks: 0, lastStatus: .running, deadlineAt: 10_000, now: 0, result: view(.unknown),
                                     backoff: schedule, random: 0) == .stillRunning(.unknown, nextInMilliseconds: 5000, checks: 1))
        #expect(CheckDecision.decide(checks: 2, lastStatus: .running, deadlineAt: 10_000, now: 0, result: view(.running),
                                     backoff: schedule, random: 0)
                == .stillRunning(.running, nextInMilliseconds: 4000, checks: 3))
    }

    @Test("status-aware: PENDING is asked about rarely; a task that starts RUNNING begins a fresh schedule")
    func statusAware() {
        let s = BackoffSchedule(initial: .seconds(1), multiplier: 2, cap: .seconds(8), pendingInitial: .seconds(5),
                                pendingCap: .seconds(30), jitter: 0)
        let pending = (1...4).map { s.delayMilliseconds(afterChecks: $0, status: .pending, random: 0) }
        #expect(pending == [5000, 10_000, 20_000, 30_000])
        // Six checks while PENDING, then it is seen RUNNING: the running schedule starts at its first step.
        #expect(CheckDecision.decide(checks: 6, lastStatus: .pending, deadlineAt: 1_000_000, now: 0, result: view(.running),
                                     backoff: s, random: 0)
                == .stillRunning(.running, nextInMilliseconds: 1000, checks: 1))
        #expect(CheckDecision.decide(checks: 6, lastStatus: .pending, deadlineAt: 1_000_000, now: 0, result: view(.pending),
                                     backoff: s, random: 0)
                == .stillRunning(.pending, nextInMilliseconds: 30_000, checks: 7))
        #expect(s.longestGapMilliseconds(status: .pending) == 30_000 && s.longestGapMilliseconds(status: .running) == 8000)
    }

    @Test("past the deadline a running task expires; a final answer still wins")
    func deadline() {
        #expect(CheckDecision.decide(checks: 9, deadlineAt: 100, now: 100, result: view(.running), backoff: schedule, random: 0) == .expire)
        #expect(CheckDecision.decide(checks: 9, deadlineAt: 100, now: 100, result: view(.succeeded), backoff: schedule, random: 0)
                == .finished(.succeeded))
    }

    @Test("429 waits at least the throttle pause (or Retry-After); other errors back off")
    func failures() {
        #expect(CheckDecision.decide(checks: 0, lastStatus: .running, deadlineAt: 10_000, now: 0, result: failure(.throttled), backoff: schedule, random: 0)
                == .retryLater(inMilliseconds: 2000, throttled: true))
        #expect(CheckDecision.decide(checks: 0, lastStatus: .running, deadlineAt: 10_000, now: 0, result: failure(.throttled, retryAfter: 7), backoff: schedule, random: 0)
                == .retryLater(inMilliseconds: 7000, throttled: true))
        #expect(CheckDecision.decide(checks: 0, lastStatus: .running, deadlineAt: 10_000, now: 0, result: failure(.server), backoff: schedule, random: 0)
                == .retryLater(inMilliseconds: 1000, throttled: false))
    }
}

