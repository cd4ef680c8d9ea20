import Common
import HTTPTypes
import Hummingbird
import Logging

/// DEV ONLY — stands in for the host's `GET /api/user/get/login`. The cookie `SESSION=dev-user-<id>`
/// logs in the live `user` row with that id; anything else is 40100. There is no password: never
/// expose the DevServer beyond loopback.
///
/// Also stands in for a host that authenticates in nginx: `GET /api/user/auth` answers an
/// `auth_request` subrequest with 204 and `X-User-Id` / `X-User-Role`, or 401.
struct HostRoutes: Sendable {
    let database: BlockingExecutor<MySQLSession>
    let sim: SimulatedDashScope
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/user/get/login") { request, _ in
            try await sim.inFlightLogin {
                if let forced = try await loginFault() { return forced }
                return try await login(request)
            }
        }
        router.get("/api/user/auth") { request, _ in
            if let forced = try await loginFault() { return forced }
            guard let id = Self.sessionUserID(cookieHeader: request.headers[.cookie]),
                  let user = try await liveUser(id) else { return Response(status: .unauthorized) }
            return Response(status: .noContent, headers: [HTTPField.Name("X-User-Id")!: String(id),
                                                          HTTPField.Name("X-User-Role")!: user.role])
        }
    }

    /// What `/_sim/config` asks of the host's endpoints: a delay, or a forced status.
    private func loginFault() async throws -> Response? {
        let settings = sim.settings
        if settings.loginLatencyMs > 0 { try await Task.sleep(for: .milliseconds(settings.loginLatencyMs)) }
        guard settings.loginStatus != 0 else { return nil }
        return DevServerResponse.json(settings.loginStatus, .object([("code", .int(50000)), ("data", .null),
                                                                     ("message", .string("simulated host failure"))]))
    }

    private func liveUser(_ id: Int64) async throws -> UserRow? {
        try await database.run { session in
            try session.read { try HostRepository.liveUser($0, id: id) }.map { UserRow(account: $0.account, name: $0.name, role: $0.role) }
        }
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
        guard let user = try await liveUser(id) else { return notLogin }
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
