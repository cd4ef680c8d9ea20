import Foundation
import Logging
import Synchronization

/// Finds out who is logged in by asking the host's `GET /api/user/get/login` with the request's
/// Cookie header.
///
/// A flood of requests with random cookies must not take the workers away from logged-in users:
/// - only the host's session cookies (`sessionCookies`, e.g. Spring Session's `SESSION` and
///   Sa-Token's `satoken`) identify a session: a request without any of them is not logged in,
///   without a call; the cache is keyed on their values, not on the whole header (other cookies
///   vary per request);
/// - valid answers are cached for `ttl`, refusals for `refusalTTL` (a repeated junk session costs one call);
/// - at most `maxConcurrentCalls` calls are in flight; past that a request is answered 50000 at
///   once rather than queued behind a slow endpoint;
/// - requests of one session at the same moment (a page's parallel calls) share one call.
/// Errors of the endpoint itself (down, 5xx, nonsense) are never cached.
///
/// - Important: the cookie is a credential: it is never logged.
public final class LoginVerifier: Sendable {
    public struct Settings: Sendable {
        public var url: String
        public var timeout: Duration
        public var ttl: Duration
        public var refusalTTL: Duration
        public var capacity: Int
        public var sessionCookies: [String]
        public var maxConcurrentCalls: Int

        public init(url: String, timeout: Duration = .seconds(2), ttl: Duration = .seconds(5), refusalTTL: Duration = .seconds(2),
                    capacity: Int = 10_000, sessionCookies: [String] = ["SESSION", "satoken"], maxConcurrentCalls: Int = 4) {
            self.url = url
            self.timeout = timeout
            self.ttl = ttl
            self.refusalTTL = refusalTTL
            self.capacity = capacity
            self.sessionCookies = sessionCookies
            self.maxConcurrentCalls = maxConcurrentCalls
        }
    }

    private let settings: Settings
    private let cache: SharedExpiringCache<LoginUser>
    private let refusals: SharedExpiringCache<Bool>
    private let calls: ConcurrencyLimit
    /// The call in flight per session key, which concurrent requests of that session wait for.
    private let flights = Mutex<[String: Flight]>([:])

    public init(_ settings: Settings) {
        self.settings = settings
        cache = SharedExpiringCache(capacity: settings.capacity, ttl: settings.ttl)
        refusals = SharedExpiringCache(capacity: settings.capacity, ttl: settings.refusalTTL)
        calls = ConcurrencyLimit(limit: settings.maxConcurrentCalls)
    }

    /// The cache key of a Cookie header: its session cookies, sorted, or nil when it has none.
    public static func sessionKey(cookie: String, names: [String]) -> String? {
        var found: [String] = []
        for part in cookie.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard let eq = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<eq])
            if names.contains(name), pair.index(after: eq) < pair.endIndex { found.append(pair) }
        }
        return found.isEmpty ? nil : found.sorted().joined(separator: "; ")
    }

    /// The logged-in user, or a `BusinessError` (40100 not logged in, 50000 login service down or busy).
    public func user(cookie: String?, http: HTTPClient, logger: Logger) throws(BusinessError) -> LoginUser {
        // A header with control characters cannot be a session of the host; don't forward it.
        guard let cookie, !cookie.isEmpty, cookie.utf8.count <= 8192,
              cookie.utf8.allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }),
              let key = Self.sessionKey(cookie: cookie, names: settings.sessionCookies) else {
            OutpaintingMetrics.loginCheck("no_session")
            throw BusinessError(.notLogin)
        }
        let now = ContinuousClock.now
        if let hit = cache.value(for: key, now: now) {
            OutpaintingMetrics.loginCheck("cache_hit")
            return hit
        }
        if refusals.value(for: key, now: now) != nil {
            OutpaintingMetrics.loginCheck("refusal_cached")
            throw BusinessError(.notLogin)
        }
        let (flight, leads) = flights.withLock { inFlight -> (Flight, Bool) in
            if let flight = inFlight[key] { return (flight, false) }
            let flight = Flight()
            inFlight[key] = flight
            return (flight, true)
        }
        let answer: Result<LoginUser?, BusinessError>
        if leads {
            defer { flights.withLock { _ = $0.removeValue(forKey: key) } }
            answer = calls.ifAvailable { () -> Result<LoginUser?, BusinessError> in
                Result { () throws(BusinessError) in try ask(cookie: cookie, http: http, logger: logger) }
            } ?? {
                OutpaintingMetrics.loginCheck("busy")
                logger.warning("too many login checks in flight; answering at once", metadata: ["login.max_concurrent": "\(settings.maxConcurrentCalls)"])
                return .failure(BusinessError(.systemError, "登录服务繁忙，请稍后重试"))
            }()
            flight.finish(answer)
        } else {
            OutpaintingMetrics.loginCheck("shared_call")
            let deadline = Date().addingTimeInterval(Double(settings.timeout.milliseconds) / 1000 + 1)
            answer = RunSlots.whileWaiting { flight.wait(until: deadline) } ?? .failure(BusinessError(.systemError, "登录服务不可用"))
        }
        switch answer {
        case .success(let user?):
            cache.store(user, for: key, now: now)
            return user
        case .success(nil):
            refusals.store(true, for: key, now: now)
            throw BusinessError(.notLogin)
        case .failure(let error):
            throw error
        }
    }

    /// One call to the host: the user, nil for "not logged in", or 50000 when the endpoint fails.
    private func ask(cookie: String, http: HTTPClient, logger: Logger) throws(BusinessError) -> LoginUser? {
        let response: HTTPResponse
        do {
            response = try RunSlots.whileWaiting { () throws(HTTPClientError) in
                try http.send(HTTPRequest(url: settings.url, headers: [("Cookie", cookie), ("Accept", "application/json")],
                                          timeout: settings.timeout))
            }
        } catch {
            OutpaintingMetrics.loginCheck("error")
            logger.error("login endpoint unreachable", metadata: [LogKey.error: "\(error)"])
            throw BusinessError(.systemError, "登录服务不可用")
        }
        // The host refusing the request itself (400/401/403) means no valid session either.
        if (400..<500).contains(response.status) {
            OutpaintingMetrics.loginCheck("refused")
            return nil
        }
        guard response.status == 200, let json = try? JSONParser().parse(response.body),
              let code = json["code"]?.int64Value else {
            OutpaintingMetrics.loginCheck("error")
            logger.error("login endpoint gave an unexpected answer", metadata: ["http.status": "\(response.status)"])
            throw BusinessError(.systemError, "登录服务不可用")
        }
        guard code == 0, let data = json["data"], let id = data["id"].flatMap(HostID.parse) else {
            OutpaintingMetrics.loginCheck("refused")
            return nil
        }
        OutpaintingMetrics.loginCheck("valid")
        return LoginUser(id: id, userRole: data["userRole"]?.stringValue ?? "user", userName: data["userName"]?.stringValue)
    }
}

/// One login call in flight, with its outcome for the requests that wait for it.
private final class Flight: @unchecked Sendable {
    // @unchecked: `outcome` is only touched while holding `condition`.
    private let condition = NSCondition()
    private var outcome: Result<LoginUser?, BusinessError>?

    func finish(_ result: Result<LoginUser?, BusinessError>) {
        condition.withLock {
            outcome = result
            condition.broadcast()
        }
    }

    /// The outcome, or nil when `deadline` passes first.
    func wait(until deadline: Date) -> Result<LoginUser?, BusinessError>? {
        condition.lock()
        defer { condition.unlock() }
        while outcome == nil, condition.wait(until: deadline) {}
        return outcome
    }
}
