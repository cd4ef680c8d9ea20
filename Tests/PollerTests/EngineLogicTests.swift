import Testing
@testable import Common

@Suite("the shared query bucket's arithmetic")
struct SharedQuotaTests {
    @Test("sized to stay under the account quota in any one-second window")
    func sizing() {
        for qps in [10.0, 20.0, 50.0] {
            let q = SharedQuota(accountQPS: qps)
            #expect(q.burst >= 1)
            #expect(q.burst + q.rate <= qps * 0.95 + 0.000_1, "quota \(qps)")
        }
        let twenty = SharedQuota(accountQPS: 20)
        #expect(twenty.burst == 4 && twenty.rate == 15)
    }

    @Test("tokens refill with time up to the burst; takes are whole tokens")
    func refill() {
        var q = SharedQuota(accountQPS: 20)
        #expect(q.take(10) == 4)
        #expect(q.take(1) == 0)
        #expect(q.millisecondsUntilNextToken == 67)
        q = q.advanced(by: 0.2)
        #expect(q.take(10) == 3)
        q = q.advanced(by: 100)
        #expect(q.tokens == q.burst)
        q.giveBack(100)
        #expect(q.tokens == q.burst)
    }

    @Test("a 429 halves the rate (not below a tenth) and empties the bucket; the rate grows back")
    func aimd() {
        var q = SharedQuota(accountQPS: 20)
        q.throttle()
        #expect(q.rate == 7.5 && q.tokens == 0)
        for _ in 0..<10 { q.throttle() }
        #expect(q.rate == 1.5)
        q = q.advanced(by: 600)
        #expect(q.rate == 15 && q.ceiling == nil)
    }

    @Test("the rate a 429 came at is a ceiling: quick recovery below it, a slow probe above it, relaxing over minutes")
    func ceiling() {
        var q = SharedQuota(accountQPS: 20)  // rate 15, burst 4
        q.throttle()
        #expect(q.ceiling == 13.5 && q.rate == 7.5)
        #expect(q.currentBurst == 2, "the burst shrinks with the rate")
        q = q.advanced(by: 4)  // 5 % of 15 per second: +3 → 10.5, under the (relaxing) ceiling
        #expect(abs(q.rate - 10.5) < 1e-9)
        q = q.advanced(by: 10)  // up to the ceiling quickly, not past it
        #expect(q.rate <= q.ceiling! + 1e-9 && q.rate > 13.5)
        let atCeiling = q.rate
        q = q.advanced(by: 10)  // above it: 0.2 % of 15 per second
        #expect(abs(q.rate - (atCeiling + 15 * 0.002 * 10)) < 1e-9)
        q = q.advanced(by: 100)  // two minutes without a 429: the ceiling is forgotten
        #expect(q.ceiling == nil)
    }

    @Test("an account that allows half the configured rate: under full load a 429 comes rarely")
    func halfRateAccount() {
        // A sliding one-second window of 10 queries, while the bucket is configured for 20/s and
        // asked for more than it gives: count 429s per query over ten minutes in 10 ms steps.
        var q = SharedQuota(accountQPS: 20)
        var window: [Double] = [], sent = 0, throttled = 0, blockedUntil = 0.0
        for step in 0..<60_000 {
            let t = Double(step) / 100
            q = q.advanced(by: 0.01)
            guard t >= blockedUntil else { continue }
            let granted = q.take(5)
            for _ in 0..<granted {
                window.removeAll { $0 <= t - 1 }
                sent += 1
                if window.count >= 10 {
                    throttled += 1
                    q.throttle()
                    blockedUntil = t + 2
                    break
                }
                window.append(t)
            }
        }
        #expect(sent > 4000, "the bucket keeps using most of what the account allows: \(sent) in 600 s")
        #expect(Double(throttled) / Double(sent) <= 0.01, "\(throttled) 429s of \(sent) queries")
    }
}

@Suite("batch assembly")
struct BatchAssemblerTests {
    func message(_ partition: Int32, _ offset: Int64, _ text: String) -> KafkaMessage {
        KafkaMessage(topicPartition: KafkaTopicPartition(topic: "t", partition: partition), offset: offset,
                     key: nil, value: Array(text.utf8))
    }

    @Test("de-duplicates by taskId, separates hints and poison, commits past everything seen")
    func assemble() {
        let batch = BatchAssembler.assemble([
            message(0, 5, #"{"taskId":"a","pictureId":1,"userId":2,"createTime":0,"retryCount":0}"#),
            message(0, 6, "not json"),
            message(1, 9, #"{"taskId":"b","pictureId":1,"userId":2}"#),
            message(0, 7, #"{"taskId":"a","pictureId":1,"userId":2,"retryCount":3}"#),
            message(1, 10, #"{"taskId":"c","hint":true}"#),
            message(1, 11, #"{"taskId":"d"}"#),
        ])
        #expect(batch.tasks.map(\.message.taskId) == ["a", "b"])
        #expect(batch.tasks[0].message.retryCount == 3 && batch.tasks[0].source.offset == 7)
        #expect(batch.hints == ["c"])
        #expect(batch.poison.map(\.message.offset) == [6, 11])
        #expect(batch.nextOffsets[KafkaTopicPartition(topic: "t", partition: 0)] == 8)
        #expect(batch.nextOffsets[KafkaTopicPartition(topic: "t", partition: 1)] == 12)
    }
}
