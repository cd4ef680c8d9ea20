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
