import Common

/// The DevServer's settings, from the environment.
struct DevServerConfiguration: Sendable {
    var host = "127.0.0.1"
    var port = 8089
    /// Base of the URLs it hands out for result images.
    var publicURL = "http://127.0.0.1:8089"
    /// The API key DashScope requests must carry.
    var apiKey = "sk-local-dev"
    var simulation = SimulationSettings()
    /// Sent as `X-Outpainting-Token` with every completion event.
    var eventToken: String?
    var mysql = MySQLConfiguration()

    static func fromEnvironment(_ env: EnvironmentReader) throws -> DevServerConfiguration {
        var c = DevServerConfiguration()
        c.host = env.string("DEVSERVER_HOST", default: c.host)
        c.port = try env.int("DEVSERVER_PORT", default: c.port, range: 1...65535)
        c.publicURL = env.string("DEVSERVER_PUBLIC_URL", default: "http://\(c.host):\(c.port)")
        c.apiKey = env.string("DEVSERVER_API_KEY", default: c.apiKey)
        c.simulation.latencyMs = try env.int("DEVSERVER_LATENCY_MS", default: 0, range: 0...60_000)
        c.simulation.queryQPSLimit = try env.int("DEVSERVER_QUERY_QPS_LIMIT", default: 20, range: 0...1_000_000)
        c.simulation.createQPSLimit = try env.int("DEVSERVER_CREATE_QPS_LIMIT", default: 2, range: 0...1_000_000)
        c.simulation.maxRunning = try env.int("DEVSERVER_MAX_RUNNING", default: 0, range: 0...1_000_000)
        c.simulation.eventTargetURL = env.raw("DEVSERVER_EVENT_URL")
        c.eventToken = env.raw("DEVSERVER_EVENT_TOKEN")
        c.mysql = try MySQLConfiguration.fromEnvironment(env)
        return c
    }
}

/// What `POST /_sim/config` changes at run time.
struct SimulationSettings: Sendable {
    var latencyMs = 0
    var queryError429Rate = 0.0
    var queryError500Rate = 0.0
    var queryQPSLimit = 20
    var createQPSLimit = 2
    /// Tasks running at once per account; the rest stay PENDING. 0 = unlimited.
    var maxRunning = 0
    /// Fraction of task queries answered after `slowMs` (beyond a client's timeout).
    var querySlowRate = 0.0
    var slowMs = 10_000
    /// Fraction of task queries answered 200 with a body that is not JSON.
    var queryMalformedRate = 0.0
    /// Every create answered with this DashScope error status (400, 401, 403, 429, 500, 503); 0 = none.
    var createErrorStatus = 0
    /// Every list query (`GET /tasks`) answered with this status (429, 500, 503); 0 = none. Single
    /// queries are unaffected: a sweep that cannot list must fall back to them.
    var listErrorStatus = 0
    /// A create takes effect at once and its answer leaves this much later (a client that times out
    /// first has lost the answer of a task that exists, as happens for real); 0 = off.
    var createAnswerDelayMs = 0
    /// The login stand-in: extra latency, and a forced HTTP status (0 = answer normally).
    var loginLatencyMs = 0
    var loginStatus = 0
    /// Where "task finished" events are POSTed (as EventBridge would); nil = none.
    var eventTargetURL: String?

    var json: JSONValue {
        .object([
            ("latency_ms", .int(latencyMs)),
            ("query_error_429_rate", .double(queryError429Rate)),
            ("query_error_500_rate", .double(queryError500Rate)),
            ("query_qps_limit", .int(queryQPSLimit)),
            ("create_qps_limit", .int(createQPSLimit)),
            ("max_running", .int(maxRunning)),
            ("query_slow_rate", .double(querySlowRate)),
            ("slow_ms", .int(slowMs)),
            ("query_malformed_rate", .double(queryMalformedRate)),
            ("create_error_status", .int(createErrorStatus)),
            ("list_error_status", .int(listErrorStatus)),
            ("create_answer_delay_ms", .int(createAnswerDelayMs)),
            ("login_latency_ms", .int(loginLatencyMs)),
            ("login_status", .int(loginStatus)),
            ("event_target_url", .optionalString(eventTargetURL)),
        ])
    }
}
