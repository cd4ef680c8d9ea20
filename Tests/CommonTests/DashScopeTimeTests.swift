import Testing
@testable import Common

@Suite("DashScope time formats (UTC+8)")
struct DashScopeTimeTests {
    @Test("task times and list filters")
    func formats() {
        // 2024-05-16 05:50:01.247 UTC = 13:50:01.247 in Beijing
        let t = 1_715_838_601.247
        #expect(DashScopeTime.taskTime(t) == "2024-05-16 13:50:01.247")
        #expect(DashScopeTime.filterTime(t) == "20240516135001")
        #expect(DashScopeTime.parseFilterTime("20240516135001") == 1_715_838_601)
        #expect(DashScopeTime.parseFilterTime("2024051613500") == nil)
        #expect(DashScopeTime.parseFilterTime("20241316135001") == nil)
    }

    @Test("Retry-After is used only when sane")
    func retryAfter() {
        #expect(DashScopeClient.retryAfter("2") == 2)
        #expect(DashScopeClient.retryAfter("1e300") == nil)
        #expect(DashScopeClient.retryAfter("nan") == nil)
        #expect(DashScopeClient.retryAfter("-1") == nil)
        #expect(DashScopeClient.retryAfter(nil) == nil)
    }

    @Test("path escaping keeps ids from changing the URL")
    func escaping() {
        #expect(DashScopeClient.pathEscape("a-b_c.d~e") == "a-b_c.d~e")
        #expect(DashScopeClient.pathEscape("../x?y#z") == "..%2Fx%3Fy%23z")
    }
}

@Suite("DashScope task times")
struct DashScopeTaskTimeTests {
    @Test("task times round-trip, with and without milliseconds; junk is nil")
    func parse() {
        let epoch = 1_796_000_000.25
        #expect(DashScopeTime.parseTaskTime(DashScopeTime.taskTime(epoch)) == epoch)
        #expect(DashScopeTime.parseTaskTime("2026-11-30 04:00:00") == DashScopeTime.parseFilterTime("20261130040000"))
        for junk in ["", "2026-11-30", "2026-11-30T04:00:00.000", "2026-11-30 04:00:00.", "2026-11-30 04:00:00.1x", "2026-13-30 04:00:00"] {
            #expect(DashScopeTime.parseTaskTime(junk) == nil, "\(junk)")
        }
    }
}
