import Metrics

/// Every series this service exports (names start with `outpainting_`). Labels are bounded sets —
/// an endpoint, a status, an outcome, a partition — never a task or user id.
public enum OutpaintingMetrics {
    static let batchSizeName = "outpainting_batch_size"

    // MARK: - Responder

    public static func responderRequest(endpoint: String, code: Int, duration: Duration) {
        Counter(label: "outpainting_responder_requests_total", dimensions: [("endpoint", endpoint), ("code", String(code))]).increment()
        Timer(label: "outpainting_responder_latency_seconds", dimensions: [("endpoint", endpoint)]).record(duration: max(duration, .zero))
    }

    /// result: cache_hit | valid | refused | error.
    public static func loginCheck(_ result: String) {
        Counter(label: "outpainting_login_checks_total", dimensions: [("result", result)]).increment()
    }

    public static func taskCreated() { Counter(label: "outpainting_tasks_created_total").increment() }

    /// How long a create waited for the account's next submission time (the shared pace).
    public static func createPaceWait(_ duration: Duration) {
        Timer(label: "outpainting_create_pace_wait_seconds").record(duration: max(duration, .zero))
    }

    /// create_task refused before DashScope, by reason: in_progress | per_minute | per_day | unsettled.
    public static func createRefused(_ reason: String) {
        Counter(label: "outpainting_create_refused_total", dimensions: [("reason", reason)]).increment()
    }

    /// A create whose answer was lost after sending (it is settled later from DashScope's list).
    public static func createUnclear() { Counter(label: "outpainting_create_unclear_total").increment() }

    /// Lost create answers settled by a Poller: outcome found | not_accepted | ambiguous.
    public static func submissionSettled(_ outcome: String) {
        Counter(label: "outpainting_submissions_settled_total", dimensions: [("outcome", outcome)]).increment()
    }

    /// Creates answered "busy" because the account's submission queue was longer than the budget.
    public static func createQueueFull() { Counter(label: "outpainting_create_queue_full_total").increment() }

    // MARK: - DashScope (both programs)

    /// call: create | task | list | cancel; outcome: ok | throttled | client_error | server_error | transport | malformed.
    public static func dashScopeCall(_ call: String, outcome: String, duration: Duration) {
        Timer(label: "outpainting_dashscope_latency_seconds", dimensions: [("call", call)]).record(duration: max(duration, .zero))
        Counter(label: "outpainting_dashscope_requests_total", dimensions: [("call", call), ("outcome", outcome)]).increment()
        if outcome == "throttled" { Counter(label: "outpainting_dashscope_throttled_total", dimensions: [("call", call)]).increment() }
    }

    /// Status queries (kind: single | list) by outcome — the account's query quota is spent on these.
    public static func statusQuery(kind: String, outcome: String) {
        Counter(label: "outpainting_status_queries_total", dimensions: [("kind", kind), ("outcome", outcome)]).increment()
    }

    // MARK: - Poller

    public static func taskFinished(_ status: String) {
        Counter(label: "outpainting_tasks_finished_total", dimensions: [("status", status)]).increment()
    }

    public static func tasksInFlight(_ count: Int) { Gauge(label: "outpainting_tasks_in_flight").record(count) }

    public static func quotaWait(_ duration: Duration) { Timer(label: "outpainting_quota_wait_seconds").record(duration: max(duration, .zero)) }

    public static func consumerLag(partition: Int32, messages: Int64) {
        Gauge(label: "outpainting_consumer_lag", dimensions: [("partition", String(partition))]).record(messages)
    }

    public static func batch(size: Int) { Recorder(label: batchSizeName).record(size) }

    public static func commitLatency(_ duration: Duration) { Timer(label: "outpainting_commit_latency_seconds").record(duration: max(duration, .zero)) }

    public static func reconcilerAdopted() { Counter(label: "outpainting_reconciler_adopted_total").increment() }

    /// reason: malformed | unknown_task | other.
    public static func deadLettered(reason: String) {
        Counter(label: "outpainting_dead_lettered_total", dimensions: [("reason", reason)]).increment()
    }

    /// Actual check time − planned check time.
    public static func checkLateness(_ duration: Duration) { Timer(label: "outpainting_check_lateness_seconds").record(duration: max(duration, .zero)) }

    /// DashScope answered UNKNOWN for a task we follow (not final on first sight; an alert watches a burst).
    public static func unknownAnswer() { Counter(label: "outpainting_unknown_answers_total").increment() }

    // MARK: - Sweeper

    /// 1 while this instance holds the account's sweeper lease.
    public static func sweeperHolding(_ holding: Bool) { Gauge(label: "outpainting_sweeper_holding").record(holding ? 1 : 0) }

    /// This instance took the sweeper lease (an alert watches it changing hands too often).
    public static func sweeperAcquired() { Counter(label: "outpainting_sweeper_acquired_total").increment() }

    /// The RUNNING sweep's interval from the budget.
    public static func sweepInterval(_ interval: Duration) {
        Gauge(label: "outpainting_sweep_interval_seconds").record(Double(interval.milliseconds) / 1000)
    }

    /// Single GETs the sweeper made (tasks that left RUNNING, suspects, unseen ones, rechecks).
    public static func sweeperFetches(_ count: Int) {
        Counter(label: "outpainting_sweeper_fetches_total").increment(by: count)
    }

    /// A Poller instance checks a due task by itself: mode trusted_sweep (a MySQL read) | fallback (a DashScope query).
    public static func ownerChecks(_ count: Int, mode: String) {
        Counter(label: "outpainting_owner_checks_total", dimensions: [("mode", mode)]).increment(by: count)
    }

    /// DashScope's end_time → the row's final write.
    public static func detectionDelay(_ duration: Duration) { Timer(label: "outpainting_detection_delay_seconds").record(duration: max(duration, .zero)) }
}
