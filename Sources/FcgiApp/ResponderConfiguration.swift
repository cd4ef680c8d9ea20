import Common
import Foundation

/// FcgiApp's settings, read from the environment in `@main` only.
struct ResponderConfiguration: Sendable {
    var listen: FastCGIListenAddress = .tcp("127.0.0.1:9000")
    var workers = 16
    var maxBodyBytes = 64 * 1024
    /// How the user is identified: the host's session cookie checked against its login endpoint,
    /// or params set by nginx after its own `auth_request` (off unless chosen).
    var loginMode = LoginMode.cookie
    var loginURL = "http://127.0.0.1:8089/api/user/get/login"
    var loginTimeout: Duration = .seconds(2)
    var loginCacheTTL: Duration = .seconds(5)
    var loginRefusalTTL: Duration = .seconds(2)
    var loginCacheSize = 10_000
    /// The host's session cookies: only they identify a session (and key the cache).
    var loginSessionCookies = ["SESSION", "satoken"]
    /// Login calls in flight at once (default half the workers); past this a request is answered
    /// 50000 at once, so a flood of unknown sessions leaves the other half to logged-in users.
    var loginMaxConcurrent = 8
    /// Trusted-param mode: the secret nginx passes as the `OUTPAINTING_TRUST_SECRET` param, so a
    /// process that can write to the FastCGI socket cannot claim to be anyone.
    /// - Important: a secret; never logged.
    var trustedParamSecret = ""
    /// A task checked by anyone within this interval is answered from MySQL without a live query.
    /// Longer than the Poller's longest gap between checks (10 s): the live check is the fallback
    /// for a Poller that is behind, not a second poller (measured in make bench: at 3 s, live checks
    /// were most of the DashScope queries of a busy site).
    var liveCheckInterval: Duration = .seconds(15)
    /// The account's sweep counts as fresh while its last success is younger than this (and than
    /// four sweep intervals): get_task makes no live checks then (the Poller's POLLER_SWEEP_STALE_MS).
    var sweepStaleAfter: Duration = .seconds(5)
    /// DashScope must answer UNKNOWN this long before a task is UNKNOWN (the Poller's UNKNOWN_CONFIRM_S).
    var unknownConfirm = TaskRepository.UnknownRule.defaultConfirm
    /// Final tasks kept in memory for get_task (a final row never changes); 0 = off.
    var finalTaskCacheSize = 10_000
    var finalTaskCacheTTL: Duration = .seconds(60)
    /// The same user, picture and parameters within this window get the task already created
    /// (a double click must not pay Aliyun twice); zero turns it off.
    var duplicateWindow: Duration = .seconds(10)
    /// How many out-paintings one user may start (in progress, per minute, per day; 0 = off).
    var userLimits = UserCreateLimits()
    /// Longest wait for the per-user and per-picture create locks (the same request twice at once).
    var createLockWait: Duration = .seconds(2)
    /// create_task calls allowed to wait on DashScope at once; the rest are answered "busy" at once,
    /// so a slow DashScope cannot take every worker away from get_task.
    var createConcurrency = 12
    /// Workers running at once (the rest wait for a slot; a worker lends its slot while it waits
    /// on the network or the submission pace).
    var runningWorkers = max(4, 2 * ProcessInfo.processInfo.activeProcessorCount)
    /// How long a create may wait for its submission time (the account's queue) and retry 429s.
    var createThrottleBudget: Duration = .seconds(12)
    /// DashScope's submission quota for the account (per second); 0 = do not pace.
    var accountCreateQPS = 2.0
    /// Path of the completion-event endpoint; empty = off.
    var hintPath = ""
    /// - Important: a secret; never logged.
    var hintToken = ""
    var kafkaTopic = "outpainting-task"
    var kafkaAckTimeout: Duration = .seconds(5)
    var kafkaProducer: [String: String] = [:]
    var dashScope = DashScopeConfiguration()
    /// The account's task-query quota, shared through MySQL with the Pollers.
    var accountQueryQPS = 20.0
    var mysql = MySQLConfiguration()

    /// The shared bucket's row for this API key.
    var quotaKey: String { QuotaRepository.quotaKey(apiKey: dashScope.apiKey) }

    static func fromEnvironment(_ env: EnvironmentReader) throws -> ResponderConfiguration {
        var c = ResponderConfiguration()
        let listenText = env.string("FCGI_LISTEN", default: "127.0.0.1:9000")
        let mode = UInt16(env.string("FCGI_SOCKET_MODE", default: "660"), radix: 8)
        guard let mode, let listen = FastCGIListenAddress.parse(listenText, unixMode: mode) else {
            throw EnvironmentReader.InvalidValue(name: "FCGI_LISTEN / FCGI_SOCKET_MODE", value: listenText,
                                                 expected: "host:port, a socket path, or fd:0 (mode: octal)")
        }
        c.listen = listen
        c.workers = try env.int("FCGI_WORKERS", default: c.workers, range: 1...1024)
        c.runningWorkers = try env.int("FCGI_RUNNING_MAX", default: min(c.runningWorkers, c.workers), range: 1...c.workers)
        c.maxBodyBytes = try env.int("FCGI_MAX_BODY_BYTES", default: c.maxBodyBytes, range: 1024...(16 << 20))
        let modeText = env.string("LOGIN_MODE", default: c.loginMode.rawValue)
        guard let mode = LoginMode(rawValue: modeText) else {
            throw EnvironmentReader.InvalidValue(name: "LOGIN_MODE", value: modeText, expected: "cookie or trusted-param")
        }
        c.loginMode = mode
        try DeploymentProfile.check(env, for: .fcgi(loginMode: mode.rawValue))
        c.loginURL = env.string("LOGIN_URL", default: DeploymentProfile.devDefault(env, c.loginURL))
        c.loginTimeout = try env.milliseconds("LOGIN_TIMEOUT_MS", default: 2000)
        c.loginCacheTTL = try env.milliseconds("LOGIN_CACHE_TTL_MS", default: 5000)
        c.loginCacheSize = try env.int("LOGIN_CACHE_SIZE", default: c.loginCacheSize, range: 0...10_000_000)
        c.loginRefusalTTL = try env.milliseconds("LOGIN_REFUSAL_CACHE_TTL_MS", default: c.loginRefusalTTL)
        c.loginSessionCookies = env.string("LOGIN_SESSION_COOKIES", default: c.loginSessionCookies.joined(separator: ","))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !c.loginSessionCookies.isEmpty else {
            throw EnvironmentReader.InvalidValue(name: "LOGIN_SESSION_COOKIES", value: "", expected: "a comma-separated list of cookie names")
        }
        c.loginMaxConcurrent = try env.int("LOGIN_MAX_CONCURRENT", default: max(1, c.workers / 2), range: 1...1024)
        if c.loginMode == .trustedParam {
            c.trustedParamSecret = env.string("TRUSTED_PARAM_SECRET", default: "")
            guard c.trustedParamSecret.utf8.count >= 16 else {
                throw EnvironmentReader.InvalidValue(name: "TRUSTED_PARAM_SECRET", value: "(hidden)",
                                                     expected: "at least 16 characters (the value nginx passes as OUTPAINTING_TRUST_SECRET)")
            }
        }
        c.liveCheckInterval = try env.milliseconds("LIVE_CHECK_INTERVAL_MS", default: 15_000)
        c.sweepStaleAfter = try env.milliseconds("POLLER_SWEEP_STALE_MS", default: c.sweepStaleAfter)
        c.unknownConfirm = .seconds(try env.int("UNKNOWN_CONFIRM_S", default: Int(c.unknownConfirm.components.seconds), range: 0...86_400))
        c.finalTaskCacheSize = try env.int("FINAL_TASK_CACHE_SIZE", default: c.finalTaskCacheSize, range: 0...10_000_000)
        c.finalTaskCacheTTL = .seconds(try env.int("FINAL_TASK_CACHE_TTL_S", default: 60, range: 0...86_400))
        // Creates mostly wait (their submission time, then DashScope): three quarters of the
        // threads, the rest always free for get_task.
        c.createConcurrency = try env.int("CREATE_MAX_CONCURRENT", default: max(1, c.workers * 3 / 4), range: 1...c.workers)
        c.userLimits = UserCreateLimits(
            inProgress: try env.int("CREATE_USER_IN_PROGRESS", default: c.userLimits.inProgress, range: 0...10_000),
            perMinute: try env.int("CREATE_USER_PER_MINUTE", default: c.userLimits.perMinute, range: 0...1_000_000),
            perDay: try env.int("CREATE_USER_PER_DAY", default: c.userLimits.perDay, range: 0...100_000_000))
        c.createLockWait = try env.milliseconds("CREATE_LOCK_WAIT_MS", default: c.createLockWait)
        c.createThrottleBudget = try env.milliseconds("CREATE_THROTTLE_BUDGET_MS", default: 12_000)
        c.duplicateWindow = .seconds(try env.int("CREATE_DUPLICATE_WINDOW_S", default: 10, range: 0...3600))
        c.hintPath = env.string("HINT_PATH", default: "")
        c.hintToken = env.string("HINT_TOKEN", default: "")
        if !c.hintPath.isEmpty && c.hintToken.utf8.count < 16 {
            throw EnvironmentReader.InvalidValue(name: "HINT_TOKEN", value: "(hidden)", expected: "a secret of at least 16 characters when HINT_PATH is set")
        }
        c.kafkaTopic = env.string("KAFKA_TOPIC", default: c.kafkaTopic)
        c.kafkaAckTimeout = try env.milliseconds("KAFKA_ACK_TIMEOUT_MS", default: 5000)
        c.kafkaProducer = [
            "bootstrap.servers": env.string("KAFKA_BOOTSTRAP_SERVERS", default: DeploymentProfile.devDefault(env, "127.0.0.1:19092")),
            "client.id": "outpainting-fcgi",
            "acks": "all",
            "linger.ms": "1",
            // Java's partitioner: a task's messages land on the partition the original producer used.
            "partitioner": "murmur2_random",
            // Topics are created by operators (or the stack); a producer creating one by accident
            // races the real creation, which leaves consumers rejoining forever on flapping metadata.
            "allow.auto.create.topics": "false",
            // librdkafka gives up on a message after this; the responder stops waiting at the ack timeout.
            "message.timeout.ms": String(c.kafkaAckTimeout.milliseconds),
            // A bounded local queue: with the broker away, a full queue refuses at once (the task is
            // stored and the reconciler adopts it) instead of growing without limit.
            "queue.buffering.max.messages": "10000",
            "queue.buffering.max.kbytes": "16384",
        ].merging(env.passthrough(prefix: "KAFKA_PRODUCER_")) { _, fromOperator in fromOperator }
        c.dashScope = try DashScopeConfiguration.fromEnvironment(env)
        c.accountQueryQPS = max(1, try env.double("DASHSCOPE_QUERY_QPS", default: c.accountQueryQPS))
        c.accountCreateQPS = max(0, try env.double("DASHSCOPE_CREATE_QPS", default: c.accountCreateQPS))
        c.mysql = try MySQLConfiguration.fromEnvironment(env, ioTimeoutDefault: 3)
        return c
    }
}

enum LoginMode: String, Sendable {
    /// The host's session cookie, checked against LOGIN_URL (the Java host's own rule).
    case cookie
    /// `OUTPAINTING_USER_ID` / `OUTPAINTING_USER_ROLE` FastCGI params, set by nginx from its
    /// `auth_request` answer (nginx/outpainting-trusted.conf); never from a client header.
    case trustedParam = "trusted-param"
}
