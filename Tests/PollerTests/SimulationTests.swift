import Testing
@testable import Common

@Suite("the DevServer's DashScope model")
struct SimulationTests {
    @Test("PENDING → RUNNING → outcome after the duration")
    func lifecycle() {
        var a = SimulatedAccount()
        a.submit(taskId: "t", at: 100, durationMs: 2000, outcome: .succeeded)
        #expect(a.task("t", at: 100)?.1 == .pending)
        #expect(a.task("t", at: 100.5)?.1 == .running)
        #expect(a.task("t", at: 102.03)?.1 == .succeeded)
        #expect(a.task("nope", at: 102)?.1 == nil)
    }

    @Test("max_running keeps the rest PENDING and starts them FIFO as slots free")
    func concurrency() {
        var a = SimulatedAccount(maxRunning: 1)
        a.submit(taskId: "a", at: 0, durationMs: 1000, outcome: .succeeded)
        a.submit(taskId: "b", at: 0.1, durationMs: 1000, outcome: .failed)
        #expect(a.task("b", at: 0.5)?.1 == .pending)
        #expect(a.task("a", at: 1.5)?.1 == .succeeded)
        #expect(a.task("b", at: 1.5)?.1 == .running)
        #expect(a.task("b", at: 2.1)?.1 == .failed)
    }

    @Test("only PENDING tasks cancel; finished tasks expire after 24 h")
    func cancelAndRetention() {
        var a = SimulatedAccount(maxRunning: 1)
        a.submit(taskId: "a", at: 0, durationMs: 1000, outcome: .succeeded)
        a.submit(taskId: "b", at: 0, durationMs: 1000, outcome: .succeeded)
        #expect(a.cancel("a", at: 0.5) == .notPending)
        #expect(a.cancel("b", at: 0.5) == .canceled)
        #expect(a.task("b", at: 0.6)?.1 == .canceled)
        #expect(a.cancel("zzz", at: 0.6) == .unknown)
        #expect(a.task("a", at: 2)?.1 == .succeeded)
        #expect(a.task("a", at: 1.02 + 86_401) == nil)
    }

    @Test("sliding one-second window")
    func limiter() {
        var l = SlidingWindowLimiter(limit: 2)
        let first = l.allow(at: 0), second = l.allow(at: 0.1), third = l.allow(at: 0.9), later = l.allow(at: 1.01)
        #expect(first && second)
        #expect(!third)
        #expect(later)
        var unlimited = SlidingWindowLimiter(limit: 0)
        #expect((0..<1000).allSatisfy { _ in unlimited.allow(at: 0) })
    }

    @Test("PNG output has a valid signature and chunk CRCs")
    func png() {
        let bytes = PNGImage.gradient(width: 4, height: 3, seed: "x")
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(PNGImage.crc32(Array("IEND".utf8)) == 0xAE42_6082)
        #expect(Array(bytes.suffix(8)) == [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    @Test("migration files split into statements; comments dropped")
    func statements() {
        let sql = "-- comment\nCREATE TABLE a (\n  x INT\n);\n\nSET @s = 'a;b';\nDO 1;\n"
        #expect(SchemaMigrator.statements(sql) == ["CREATE TABLE a (\n  x INT\n);", "SET @s = 'a;b';", "DO 1;"])
    }
}
