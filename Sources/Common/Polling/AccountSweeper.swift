import DequeModule

/// The decisions of the account's one sweeper (the Poller instance holding the sweeper lease):
/// a pure state machine — events in, actions out — that the sweeper service performs.
///
/// Each round asks DashScope's list query for the account's RUNNING tasks of this model (one page
/// holds them all: an account runs 5–50 at once) and compares with the previous round:
/// - one of our tasks that left RUNNING gets one single GET (its result or error: the floor of one
///   query per task), before anything else;
/// - submissions start in order (FIFO, DevServer and observed behaviour; DASHSCOPE.md marks it
///   unconfirmed), so one of our PENDING tasks submitted before the newest task seen RUNNING has
///   started: if it is not RUNNING now, it finished unseen between two sweeps and gets one GET;
/// - now and then a pass over the `status=PENDING` pages stamps our waiting tasks as seen, and our
///   PENDING tasks the pass did not see (not FIFO after all, or cancelled) get one GET;
/// - a task listed RUNNING for very long gets a GET now and then, in case the list lags.
///
/// Pacing is by budget: a RUNNING sweep costs its pages, so its interval is pages ÷ (share × the
/// account's current query rate), between a floor and a ceiling; the PENDING pass has its own share
/// and starts at most every `pendingPassInterval`. Fetches go first and are not counted in the share.
///
/// Time is passed in: `now` is monotonic milliseconds, `nowEpochMs` wall-clock milliseconds (used
/// only to compare with DashScope's submit times and the rows' times).
public struct AccountSweeper: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Share of the account's query rate the RUNNING sweeps may spend.
        public var budgetShare: Double
        /// The RUNNING sweep never runs more often than this, whatever the budget.
        public var intervalFloor: Duration
        /// … and a one-page sweep never less often than this (then it spends more than its share).
        public var intervalCeiling: Duration
        /// Share of the account's query rate the PENDING pass may spend, page by page.
        public var pendingBudgetShare: Double
        /// A PENDING pass starts at most this often.
        public var pendingPassInterval: Duration
        /// A task listed RUNNING this long gets a single GET (a list that lags behind the task view).
        public var runningRecheck: Duration
        /// A task fetched as a suspect and found PENDING is not suspected again for this long.
        public var suspectRecheck: Duration
        /// Allowance between DashScope's clock (submit times) and the database's (createTime).
        public var clockSlack: Duration
        /// Pause after a failed list query, doubled per failure up to `listRetryCap`.
        public var listRetry: Duration
        public var listRetryCap: Duration
        /// A task DashScope answered UNKNOWN for is asked again after this, doubling to the cap.
        public var unknownRecheck: Duration
        public var unknownRecheckCap: Duration
        /// Most single GETs asked for at once.
        public var fetchBatch: Int
        /// Most suspects or unseen tasks asked from MySQL at once.
        public var lookupLimit: Int

        public init(budgetShare: Double = 0.07, intervalFloor: Duration = .milliseconds(250),
                    intervalCeiling: Duration = .seconds(3), pendingBudgetShare: Double = 0.03,
                    pendingPassInterval: Duration = .seconds(30), runningRecheck: Duration = .seconds(600),
                    suspectRecheck: Duration = .seconds(30), clockSlack: Duration = .seconds(5),
                    listRetry: Duration = .seconds(1), listRetryCap: Duration = .seconds(10),
                    unknownRecheck: Duration = .seconds(5), unknownRecheckCap: Duration = .seconds(60),
                    fetchBatch: Int = 8, lookupLimit: Int = 100) {
            self.budgetShare = budgetShare
            self.intervalFloor = intervalFloor
            self.intervalCeiling = max(intervalCeiling, intervalFloor)
            self.pendingBudgetShare = pendingBudgetShare
            self.pendingPassInterval = pendingPassInterval
            self.runningRecheck = runningRecheck
            self.suspectRecheck = suspectRecheck
            self.clockSlack = clockSlack
            self.listRetry = listRetry
            self.listRetryCap = max(listRetryCap, listRetry)
            self.unknownRecheck = unknownRecheck
            self.unknownRecheckCap = max(unknownRecheckCap, unknownRecheck)
            self.fetchBatch = max(fetchBatch, 1)
            self.lookupLimit = max(lookupLimit, 1)
        }
    }

    /// What the sweeper service does next.
    public enum Action: Sendable, Equatable {
        /// Single GETs for these tasks; then `fetched(_:now:)` (or `fetchDeferred` for those it could not send).
        case fetch([String])
        /// One page of `status=RUNNING`; then `runningListed` or `listFailed`.
        case listRunning(page: Int)
        /// One page of `status=PENDING`; then `pendingListed` or `listFailed`.
        case listPending(page: Int)
        /// Nothing to do before this instant (monotonic ms).
        case wait(until: Int64)
    }

    /// A task as a list page shows it.
    public struct Listed: Sendable, Equatable {
        public let taskId: String
        public let status: TaskStatus
        /// DashScope's `gmt_create` (epoch ms), when given.
        public let submittedAtEpochMs: Int64?

        public init(taskId: String, status: TaskStatus, submittedAtEpochMs: Int64?) {
            self.taskId = taskId
            self.status = status
            self.submittedAtEpochMs = submittedAtEpochMs
        }
    }

    /// What to write to MySQL.
    public struct Observation: Sendable, Equatable {
        public let view: DashScopeTaskView
        /// A list page's sighting (stamps the row as seen) rather than a single GET (counted as a check).
        public let fromList: Bool
    }

    /// What the service does after an event, besides asking `next` again.
    public struct Effects: Sendable, Equatable {
        /// Store these in one statement.
        public var store: [Observation] = []
        /// Look up our PENDING rows created before this instant (epoch ms), oldest first, at most
        /// `lookupLimit`; then `suspectsFound`.
        public var findSuspectsCreatedBefore: Int64?
        /// Look up our PENDING rows created before `createdBefore` and not seen since `seenSince`
        /// (epoch ms): the ones a finished PENDING pass did not see; then `unseenFound`.
        public var findUnseen: (createdBefore: Int64, seenSince: Int64)?
        /// The RUNNING sweep succeeded: record it where the other instances and FcgiApp see it.
        public var sweptWithInterval: Duration?

        public init() {}

        public static func == (a: Effects, b: Effects) -> Bool {
            a.store == b.store && a.findSuspectsCreatedBefore == b.findSuspectsCreatedBefore
                && a.findUnseen?.createdBefore == b.findUnseen?.createdBefore && a.findUnseen?.seenSince == b.findUnseen?.seenSince
                && a.sweptWithInterval == b.sweptWithInterval
        }
    }

    public let settings: Settings

    /// Tasks per list page (DashScope's largest page size is undocumented; the DevServer caps at 100).
    public static let pageSize = 100
    /// DashScope refuses list windows longer than 24 h; no task stays PENDING or RUNNING that long.
    public static let listWindow: Duration = .seconds(24 * 3600)

    /// Whether this instance holds the lease (only then does it sweep).
    public private(set) var holding = false
    /// Our tasks the last RUNNING sweep showed, with when each was first seen running (monotonic ms).
    private var running: [String: Int64] = [:]
    /// Pages of RUNNING the last sweep needed (its cost).
    private var runningPages = 1
    /// The RUNNING sweep in progress: what its pages showed so far.
    private var sweepInProgress: RunningSweep?
    private struct RunningSweep: Sendable {
        /// When its first page was asked for: the next sweep is due an interval after that.
        var startedAt: Int64
        var seen: [Listed] = []
        var nextPage = 1
        var totalPages = 1
    }
    /// The latest submit time seen among RUNNING tasks (FIFO: everything submitted before has started).
    public private(set) var headSubmittedAtEpochMs: Int64 = 0
    private var suspectsAskedForHead: Int64 = 0
    private var nextRunningSweepAt: Int64 = 0
    private var listFailures = 0
    /// The PENDING pass in progress: its start (epoch ms) and the next page.
    private var pendingPass: (startedEpochMs: Int64, nextPage: Int, totalPages: Int)?
    private var nextPendingPassAt: Int64 = 0
    private var nextPendingPageAt: Int64 = 0
    /// Single GETs waiting: task ids in order (tasks that left RUNNING go to the front).
    private var fetchQueue = Deque<String>()
    private var queued = Set<String>()
    /// GETs that failed, retried at the given instant.
    private var retryAt: [String: Int64] = [:]
    /// Suspects found still PENDING, not suspected again before the given instant.
    private var confirmedPendingUntil: [String: Int64] = [:]
    /// No query before this instant (a 429 paused the account).
    private var pausedUntil: Int64 = 0
    /// UNKNOWN answers in a row per task (their re-checks back off).
    private var unknownAnswers: [String: Int] = [:]

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    // MARK: - Lease

    /// This instance now holds the lease. `runningRows` are our tasks stored RUNNING (or SUSPENDED):
    /// the previous holder's last view, so a task that finished during the handover is still fetched.
    public mutating func leaseAcquired(runningRows: [String], now: Int64) {
        self = AccountSweeper(settings: settings)
        holding = true
        for id in runningRows { running[id] = now }
        nextRunningSweepAt = now
        nextPendingPassAt = now
    }

    /// Another instance holds the lease now (or it could not be renewed): stop, forget everything.
    public mutating func leaseLost() {
        self = AccountSweeper(settings: settings)
    }

    // MARK: - Scheduling

    /// The RUNNING sweep's interval at the account's current query rate (queries/s): its pages ÷
    /// its share of the rate. One page's worth is kept within the floor and the ceiling; an account
    /// running more than a page of tasks (more than 100 at once) sweeps proportionally less often,
    /// so the sweep never spends more than its share on pages.
    public func sweepInterval(queryRate: Double) -> Duration {
        let budget = max(queryRate * settings.budgetShare, 0.001)
        let perPage = min(max(Int64((1000 / budget).rounded(.up)), settings.intervalFloor.milliseconds),
                          settings.intervalCeiling.milliseconds)
        return .milliseconds(perPage * Int64(max(runningPages, 1)))
    }

    /// What to do now: fetches first, then the RUNNING sweep when due, then a PENDING page.
    public mutating func next(now: Int64, nowEpochMs: Int64, queryRate: Double) -> Action {
        guard holding else { return .wait(until: .max) }
        guard now >= pausedUntil else { return .wait(until: pausedUntil) }
        for (id, at) in retryAt where at <= now {
            retryAt[id] = nil
            enqueue(id, first: false)
        }
        if !fetchQueue.isEmpty {
            var batch: [String] = []
            while batch.count < settings.fetchBatch, let id = fetchQueue.popFirst() {
                queued.remove(id)
                batch.append(id)
            }
            return .fetch(batch)
        }
        if let sweep = sweepInProgress { return .listRunning(page: sweep.nextPage) }
        if now >= nextRunningSweepAt {
            sweepInProgress = RunningSweep(startedAt: now)
            return .listRunning(page: 1)
        }
        if let pass = pendingPass {
            if now >= nextPendingPageAt { return .listPending(page: pass.nextPage) }
        } else if now >= nextPendingPassAt {
            pendingPass = (nowEpochMs, 1, 1)
            return .listPending(page: 1)
        }
        var wake = nextRunningSweepAt
        wake = min(wake, pendingPass == nil ? nextPendingPassAt : nextPendingPageAt)
        if let soonest = retryAt.values.min() { wake = min(wake, soonest) }
        return .wait(until: wake)
    }

    // MARK: - RUNNING sweep

    /// A page of `status=RUNNING` arrived. `ours` are the ids of this page (and of the previous
    /// sweep) that are our open tasks, as MySQL says.
    public mutating func runningListed(page: Int, totalPages: Int, entries: [Listed], ours: Set<String>,
                                       now: Int64, nowEpochMs: Int64, queryRate: Double) -> Effects {
        var progress = sweepInProgress ?? RunningSweep(startedAt: now)
        progress.seen += entries
        progress.totalPages = max(totalPages, 1)
        listFailures = 0
        if page < progress.totalPages {
            progress.nextPage = page + 1
            sweepInProgress = progress
            return Effects()
        }
        sweepInProgress = nil
        runningPages = progress.totalPages
        var effects = Effects()
        let nowRunning = progress.seen.filter { !$0.status.isFinal }
        let runningIDs = Set(nowRunning.map(\.taskId))
        // Left RUNNING since the last sweep: finished (or lost) — one GET each, before anything else.
        let left = running.keys.filter { !runningIDs.contains($0) }.sorted()
        for id in left.reversed() {
            running[id] = nil
            enqueue(id, first: true)
        }
        for entry in nowRunning where ours.contains(entry.taskId) {
            let firstSeen = running[entry.taskId] ?? now
            running[entry.taskId] = firstSeen
            effects.store.append(Observation(view: DashScopeTaskView(taskId: entry.taskId, status: entry.status), fromList: true))
            if now - firstSeen >= settings.runningRecheck.milliseconds {
                running[entry.taskId] = now
                enqueue(entry.taskId, first: false)
            }
        }
        for entry in progress.seen where entry.status.isFinal && ours.contains(entry.taskId) { enqueue(entry.taskId, first: true) }
        if let newest = nowRunning.compactMap(\.submittedAtEpochMs).max(), newest > headSubmittedAtEpochMs {
            headSubmittedAtEpochMs = newest
        }
        if headSubmittedAtEpochMs > suspectsAskedForHead {
            suspectsAskedForHead = headSubmittedAtEpochMs
            effects.findSuspectsCreatedBefore = headSubmittedAtEpochMs - settings.clockSlack.milliseconds
        }
        let interval = sweepInterval(queryRate: queryRate)
        nextRunningSweepAt = max(progress.startedAt + interval.milliseconds, now)
        effects.sweptWithInterval = interval
        return effects
    }

    /// Our PENDING rows created before the head of the queue (oldest first): those not RUNNING now
    /// have started and finished unseen, unless DashScope does not start tasks in order.
    public mutating func suspectsFound(_ ids: [String], now: Int64) {
        for id in ids where running[id] == nil {
            if let until = confirmedPendingUntil[id], until > now { continue }
            confirmedPendingUntil[id] = nil
            enqueue(id, first: false)
        }
    }

    // MARK: - PENDING pass

    /// A page of `status=PENDING` arrived; `ours` are this page's ids that are our open tasks.
    public mutating func pendingListed(page: Int, totalPages: Int, entries: [Listed], ours: Set<String>,
                                       now: Int64, queryRate: Double) -> Effects {
        guard var pass = pendingPass else { return Effects() }
        listFailures = 0
        var effects = Effects()
        for entry in entries where ours.contains(entry.taskId) && !entry.status.isFinal {
            effects.store.append(Observation(view: DashScopeTaskView(taskId: entry.taskId, status: entry.status), fromList: true))
        }
        pass.totalPages = max(totalPages, 1)
        if page >= pass.totalPages || entries.isEmpty {
            pendingPass = nil
            nextPendingPassAt = now + settings.pendingPassInterval.milliseconds
            effects.findUnseen = (pass.startedEpochMs - settings.clockSlack.milliseconds, pass.startedEpochMs)
        } else {
            pass.nextPage = page + 1
            pendingPass = pass
            let pageGap = 1000 / max(queryRate * settings.pendingBudgetShare, 0.001)
            nextPendingPageAt = now + Int64(pageGap.rounded(.up))
        }
        return effects
    }

    /// Our PENDING rows a finished pass did not see: one GET each.
    public mutating func unseenFound(_ ids: [String]) {
        for id in ids where running[id] == nil { enqueue(id, first: false) }
    }

    // MARK: - Answers and failures

    /// A list query failed: a RUNNING sweep is abandoned and retried with back-off (the other
    /// instances fall back to per-task polling while the sweep stays stale); a PENDING pass goes on
    /// later from the same page. A 429 pauses every query for `throttledPause`.
    public mutating func listFailed(running: Bool, throttledPause pause: Duration?, now: Int64) {
        listFailures += 1
        let backoff = min(settings.listRetry.milliseconds << min(listFailures - 1, 20), settings.listRetryCap.milliseconds)
        if running {
            sweepInProgress = nil
            nextRunningSweepAt = now + backoff
        } else {
            nextPendingPageAt = now + backoff
        }
        if let pause { pausedUntil = max(pausedUntil, now + pause.milliseconds) }
    }

    /// The answers of single GETs. Returns what to store; failed ones are retried later.
    public mutating func fetched(_ results: [(taskId: String, result: Result<DashScopeTaskView, DashScopeError>)],
                                 now: Int64) -> Effects {
        var effects = Effects()
        for (id, result) in results {
            switch result {
            case .success(let view):
                effects.store.append(Observation(view: view, fromList: false))
                switch view.status {
                case .running, .suspended: running[id] = running[id] ?? now
                case .pending: confirmedPendingUntil[id] = now + settings.suspectRecheck.milliseconds
                case .unknown:
                    // Not final on first sight (the store decides): asked again, less and less often.
                    running[id] = nil
                    let n = unknownAnswers[id, default: 0]
                    unknownAnswers[id] = n + 1
                    retryAt[id] = now + min(settings.unknownRecheck.milliseconds << min(n, 20), settings.unknownRecheckCap.milliseconds)
                    continue
                default: running[id] = nil
                }
                unknownAnswers[id] = nil
            case .failure(let error):
                let delay = error.kind == .throttled
                    ? max(CheckDecision.throttledPauseMilliseconds, error.retryAfterSeconds.map { Int64($0 * 1000) } ?? 0)
                    : settings.listRetry.milliseconds
                if error.kind == .throttled { pausedUntil = max(pausedUntil, now + delay) }
                retryAt[id] = now + delay
            }
        }
        if confirmedPendingUntil.count > 10 * settings.lookupLimit {
            confirmedPendingUntil = confirmedPendingUntil.filter { $0.value > now }
        }
        if unknownAnswers.count > 10 * settings.lookupLimit {
            unknownAnswers = unknownAnswers.filter { retryAt[$0.key] != nil }
        }
        return effects
    }

    /// No query before `now + duration` (the shared budget has no token yet, or MySQL is away).
    public mutating func pause(for duration: Duration, now: Int64) {
        pausedUntil = max(pausedUntil, now + duration.milliseconds)
    }

    /// GETs that were asked for but not sent (the shared budget had no token): first in line again.
    public mutating func fetchDeferred(_ ids: [String]) {
        for id in ids.reversed() { enqueue(id, first: true) }
    }

    /// Whether single GETs wait (they go before anything else).
    public var hasQueuedFetches: Bool { !fetchQueue.isEmpty }

    /// Our tasks the last sweep showed RUNNING.
    public var runningTaskIDs: Set<String> { Set(running.keys) }

    private mutating func enqueue(_ id: String, first: Bool) {
        guard queued.insert(id).inserted else { return }
        retryAt[id] = nil
        if first { fetchQueue.prepend(id) } else { fetchQueue.append(id) }
    }
}
