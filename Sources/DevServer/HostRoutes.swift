import Common
import Hummingbird
import Logging

/// DEV ONLY — stands in for the host's `GET /api/user/get/login`. The cookie `SESSION=dev-user-<id>`
/// logs in the live `user` row with that id; anything else is 40100. There is no password: never
/// expose the DevServer beyond loopback.
struct HostRoutes: Sendable {
    let database: BlockingExecutor<MySQLSession>
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/user/get/login") { request, _ in try await login(request) }
    }

    static func sessionUserID(cookieHeader: String?) -> Int64? {
        guard let cookieHeader else { return nil }
        for part in cookieHeader.split(separator: ";") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0] == "SESSION", kv[1].hasPrefix("dev-user-") else { continue }
            return HostID.parse(String(kv[1].dropFirst("dev-user-".count)))
        }
        return nil
    }

    private func login(_ request: Request) async throws -> Response {
        let notLogin = DevServerResponse.json(200, .object([("code", .int(40100)), ("data", .null), ("message", .string("未登录"))]))
        guard let id = Self.sessionUserID(cookieHeader: request.headers[.cookie]) else { return notLogin }
        let user = try await database.run { session in
            try session.read { try HostRepository.liveUser($0, id: id) }.map { UserRow(account: $0.account, name: $0.name, role: $0.role) }
        }
        guard let user else { return notLogin }
        return DevServerResponse.json(200, .object([
            ("code", .int(0)),
            ("data", .object([
                ("id", .string(String(id))), ("userAccount", .string(user.account)),
                ("userName", .optionalString(user.name)), ("userAvatar", .null), ("userProfile", .null),
                ("userRole", .string(user.role)),
            ])),
            ("message", .string("ok")),
        ]))
    }

    private struct UserRow: Sendable {
        let account: String
        let name: String?
        let role: String
    }
}

/// Real PNG files for picture URLs (`/images/…`) and task results (`/results/<taskId>.png`).
struct ImageRoutes: Sendable {
    func register(on router: Router<BasicRequestContext>) {
        router.get("/images/:name") { _, context in png(seed: context.parameters.get("name") ?? "image", size: 192) }
        router.get("/results/:name") { _, context in png(seed: context.parameters.get("name") ?? "result", size: 256) }
    }

    private func png(seed: String, size: Int) -> Response {
        let bytes = PNGImage.gradient(width: size, height: size, seed: seed)
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "max-age=86400"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
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
        case "event_target_url":
            if value.isNull { return { $0.eventTargetURL = nil } }
            return value.stringValue.map { v in { $0.eventTargetURL = v } }
        default: return nil
        }
    }
}

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
                                                       ("throttled", .int(s.throttled)), ("server_errors", .int(s.serverErrors))]))
        }
        router.post("/_sim/stats/reset") { _, _ in
            sim.resetStats()
            return DevServerResponse.json(200, .object([("reset", .bool(true))]))
        }
    }
}
