import Foundation
import Logging
import Synchronization

/// Finds out who is logged in by asking the host's `GET /api/user/get/login` with the request's
/// Cookie header, caching valid answers briefly. Failures are never cached.
///
/// - Important: the cookie is a credential: it is never logged.
public final class LoginVerifier: Sendable {
    private let url: String
    private let timeout: Duration
    private let cache: SharedExpiringCache<LoginUser>

    public init(url: String, timeout: Duration, ttl: Duration, capacity: Int) {
        self.url = url
        self.timeout = timeout
        cache = SharedExpiringCache(capacity: capacity, ttl: ttl)
    }

    /// The logged-in user, or a `BusinessError` (40100 not logged in, 50000 login service down).
    public func user(cookie: String?, http: HTTPClient, logger: Logger) throws(BusinessError) -> LoginUser {
        // A header with control characters cannot be a session of the host; don't forward it.
        guard let cookie, !cookie.isEmpty, cookie.utf8.count <= 8192,
              cookie.utf8.allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }) else { throw BusinessError(.notLogin) }
        let now = ContinuousClock.now
        if let hit = cache.value(for: cookie, now: now) {
            OutpaintingMetrics.loginCheck("cache_hit")
            return hit
        }

        let response: HTTPResponse
        do {
            response = try RunSlots.whileWaiting { () throws(HTTPClientError) in
                try http.send(HTTPRequest(url: url, headers: [("Cookie", cookie), ("Accept", "application/json")], timeout: timeout))
            }
        } catch {
            OutpaintingMetrics.loginCheck("error")
            logger.error("login endpoint unreachable", metadata: [LogKey.error: "\(error)"])
            throw BusinessError(.systemError, "登录服务不可用")
        }
        // The host refusing the request itself (400/401/403) means no valid session either.
        if (400..<500).contains(response.status) {
            OutpaintingMetrics.loginCheck("refused")
            throw BusinessError(.notLogin)
        }
        guard response.status == 200, let json = try? JSONParser().parse(response.body),
              let code = json["code"]?.int64Value else {
            OutpaintingMetrics.loginCheck("error")
            logger.error("login endpoint gave an unexpected answer", metadata: ["http.status": "\(response.status)"])
            throw BusinessError(.systemError, "登录服务不可用")
        }
        guard code == 0, let data = json["data"], let id = data["id"].flatMap(HostID.parse) else {
            OutpaintingMetrics.loginCheck("refused")
            throw BusinessError(.notLogin)
        }
        OutpaintingMetrics.loginCheck("valid")
        let user = LoginUser(id: id, userRole: data["userRole"]?.stringValue ?? "user", userName: data["userName"]?.stringValue)
        cache.store(user, for: cookie, now: now)
        return user
    }
}
