import Testing
@testable import Common

@Suite("login cache and trusted identity")
struct LoginTests {
    let alice = LoginUser(id: 1, userRole: "user")
    let t0 = ContinuousClock.now

    @Test("an entry is served until its TTL passes, then asked again")
    func ttl() {
        var cache = LoginCache(capacity: 10, ttl: .seconds(5))
        cache.store(alice, for: "a", now: t0)
        #expect(cache.value(for: "a", now: t0 + .seconds(4)) == alice)
        #expect(cache.value(for: "a", now: t0 + .seconds(5)) == nil)
    }

    @Test("never more than the capacity; the oldest goes first")
    func capacity() {
        var cache = LoginCache(capacity: 100, ttl: .seconds(60))
        for i in 0..<1000 { cache.store(LoginUser(id: Int64(i + 1), userRole: "user"), for: "k\(i)", now: t0) }
        #expect(cache.count == 100)
        #expect(cache.value(for: "k899", now: t0) == nil)
        #expect(cache.value(for: "k900", now: t0)?.id == 901)
        #expect(cache.value(for: "k999", now: t0)?.id == 1000)
    }

    @Test("expired entries are dropped as new ones arrive, not kept until the cache is full")
    func expiredAreDropped() {
        var cache = LoginCache(capacity: 1000, ttl: .seconds(1))
        for i in 0..<10 { cache.store(alice, for: "old\(i)", now: t0) }
        cache.store(alice, for: "new", now: t0 + .seconds(2))
        #expect(cache.count == 1)
    }

    @Test("capacity 0 or TTL 0 turns caching off")
    func off() {
        var none = LoginCache(capacity: 0, ttl: .seconds(5))
        none.store(alice, for: "a", now: t0)
        var instant = LoginCache(capacity: 10, ttl: .zero)
        instant.store(alice, for: "a", now: t0)
        #expect(none.value(for: "a", now: t0) == nil && instant.value(for: "a", now: t0) == nil)
    }

    @Test("trusted params: a strict id and a plain role, else not logged in",
          arguments: [
            (["OUTPAINTING_USER_ID": "42", "OUTPAINTING_USER_ROLE": "admin"], LoginUser(id: 42, userRole: "admin")),
            (["OUTPAINTING_USER_ID": "42"], LoginUser(id: 42, userRole: "user")),
            (["OUTPAINTING_USER_ID": "42", "OUTPAINTING_USER_ROLE": ""], LoginUser(id: 42, userRole: "user")),
            (["OUTPAINTING_USER_ID": "42", "OUTPAINTING_USER_ROLE": "Admin"], nil),
            (["OUTPAINTING_USER_ID": "42", "OUTPAINTING_USER_ROLE": "admin\n"], nil),
            (["OUTPAINTING_USER_ID": ""], nil),
            (["OUTPAINTING_USER_ID": "0"], nil),
            (["OUTPAINTING_USER_ID": "-1"], nil),
            (["OUTPAINTING_USER_ID": "42 "], nil),
            (["OUTPAINTING_USER_ID": "99999999999999999999"], nil),
            (["HTTP_OUTPAINTING_USER_ID": "42", "HTTP_X_USER_ID": "42"], nil),
            ([:], nil),
          ] as [([String: String], LoginUser?)])
    func trusted(params: [String: String], expected: LoginUser?) {
        let secret = "nginx-shared-secret-0123"
        #expect(TrustedIdentity.user(params: params.merging([TrustedIdentity.secretParam: secret]) { $1 }, secret: secret) == expected)
        // Without nginx's secret, or with another one, nobody is logged in.
        #expect(TrustedIdentity.user(params: params, secret: secret) == nil)
        #expect(TrustedIdentity.user(params: params.merging([TrustedIdentity.secretParam: "nginx-shared-secret-0124"]) { $1 },
                                     secret: secret) == nil)
        #expect(TrustedIdentity.user(params: params.merging([TrustedIdentity.secretParam: ""]) { $1 }, secret: "") == nil)
    }

    @Test("the login cache key: the host's session cookies only, sorted; none → not logged in without a call")
    func sessionKey() {
        let names = ["SESSION", "satoken"]
        #expect(LoginVerifier.sessionKey(cookie: "SESSION=abc", names: names) == "SESSION=abc")
        #expect(LoginVerifier.sessionKey(cookie: "_ga=1; satoken=t; theme=dark; SESSION=abc", names: names) == "SESSION=abc; satoken=t")
        #expect(LoginVerifier.sessionKey(cookie: "theme=dark; SESSION=abc; _ga=2", names: names)
                == LoginVerifier.sessionKey(cookie: "SESSION=abc; _ga=3", names: names), "other cookies do not split the cache")
        #expect(LoginVerifier.sessionKey(cookie: "junk=1; other=2", names: names) == nil)
        #expect(LoginVerifier.sessionKey(cookie: "SESSION=", names: names) == nil)
        #expect(LoginVerifier.sessionKey(cookie: "XSESSION=abc", names: names) == nil)
    }
}
