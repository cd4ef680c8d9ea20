import Common
import Hummingbird

/// Run-time control of the simulation: `POST /_sim/config`, `GET /_sim/stats`, `POST /_sim/stats/reset`.
struct ControlRoutes: Sendable {
    let sim: SimulatedDashScope

    func register(on router: Router<BasicRequestContext>) {
        router.get("/_sim/config") { _, _ in DevServerResponse.json(200, sim.settings.json) }
        router.post("/_sim/config") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            guard let json = try? JSONParser().parse(Array(buffer: body)), case .object(let members) = json else {
                return DevServerResponse.json(400, .object([("error", .string("body must be a JSON object"))]))
            }
            var changes: [(inout SimulationSettings) -> Void] = []
            for (key, value) in members {
                guard let change = Self.change(key, value) else {
                    return DevServerResponse.json(400, .object([("error", .string("unknown setting or bad value: \(key)"))]))
                }
                changes.append(change)
            }
            let settings = sim.update { s in changes.forEach { $0(&s) } }
            return DevServerResponse.json(200, settings.json)
        }
        router.get("/_sim/stats") { _, _ in
            let s = sim.stats
            return DevServerResponse.json(200, .object([("creates", .int(s.creates)), ("queries", .int(s.queries)),
                                                       ("throttled", .int(s.throttled)), ("create_throttled", .int(s.createThrottled)),
                                                       ("server_errors", .int(s.serverErrors)),
                                                       ("creates_in_flight", .int(s.createsInFlight)),
                                                       ("single_queries", .int(s.singleQueries)), ("list_queries", .int(s.listQueries)),
                                                       ("logins", .int(s.logins)), ("logins_in_flight", .int(s.loginsInFlight)),
                                                       ("logins_max_in_flight", .int(s.loginsMaxInFlight))]))
        }
        router.post("/_sim/stats/reset") { _, _ in
            sim.resetStats()
            return DevServerResponse.json(200, .object([("reset", .bool(true))]))
        }
    }
}

extension ControlRoutes {
    /// How one `/_sim/config` member changes the settings; nil for an unknown key or a bad value.
    static func change(_ key: String, _ value: JSONValue) -> ((inout SimulationSettings) -> Void)? {
        let count = value.int64Value.flatMap { $0 >= 0 ? Int(clamping: $0) : nil }
        let rate = value.doubleValue.flatMap { (0...1).contains($0) ? $0 : nil }
        switch key {
        case "latency_ms": return count.map { v in { $0.latencyMs = v } }
        case "query_qps_limit": return count.map { v in { $0.queryQPSLimit = v } }
        case "create_qps_limit": return count.map { v in { $0.createQPSLimit = v } }
        case "max_running": return count.map { v in { $0.maxRunning = v } }
        case "slow_ms": return count.map { v in { $0.slowMs = v } }
        case "query_error_429_rate": return rate.map { v in { $0.queryError429Rate = v } }
        case "query_error_500_rate": return rate.map { v in { $0.queryError500Rate = v } }
        case "query_slow_rate": return rate.map { v in { $0.querySlowRate = v } }
        case "query_malformed_rate": return rate.map { v in { $0.queryMalformedRate = v } }
        case "create_error_status":
            return count.flatMap { v in [0, 400, 401, 403, 429, 500, 503].contains(v) ? { $0.createErrorStatus = v } : nil }
        case "create_answer_delay_ms": return count.map { v in { $0.createAnswerDelayMs = v } }
        case "list_error_status":
            return count.flatMap { v in [0, 429, 500, 503].contains(v) ? { $0.listErrorStatus = v } : nil }
        case "login_latency_ms": return count.map { v in { $0.loginLatencyMs = v } }
        case "login_status": return count.flatMap { v in v == 0 || (200...599).contains(v) ? { $0.loginStatus = v } : nil }
        case "event_target_url":
            if value.isNull { return { $0.eventTargetURL = nil } }
            return value.stringValue.map { v in { $0.eventTargetURL = v } }
        default: return nil
        }
    }
}
