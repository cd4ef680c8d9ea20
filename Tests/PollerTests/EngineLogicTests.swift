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
        q = q.advanced(by: 4)
        #expect(q.rate == 1.5 + 15 * 0.05 * 4)
        q = q.advanced(by: 60)
        #expect(q.rate == 15)
    }
}

@Suite("the round planner")
struct RoundPlannerTests {
    @Test("a sweep is used only when it costs less than one query per due task")
    func choice() {
        #expect(!RoundPlanner.useListSweep(dueCount: 1, expectedPages: 1))
        #expect(RoundPlanner.useListSweep(dueCount: 2, expectedPages: 1))
        #expect(!RoundPlanner.useListSweep(dueCount: 3, expectedPages: 3))
        #expect(RoundPlanner.useListSweep(dueCount: 40, expectedPages: 3))
    }

    @Test("the window covers the oldest task with slack, at most 24 h")
    func window() {
        let now: Int64 = 100 * 86_400_000
        let w = RoundPlanner.window(createdAt: [now - 60_000, now - 5_000, 0], nowEpochMs: now)
        #expect(w.start == now - 60_000 - RoundPlanner.windowSlackBeforeMs)
        #expect(w.end == now + RoundPlanner.windowSlackAfterMs)
        let old = RoundPlanner.window(createdAt: [now - 3 * 86_400_000], nowEpochMs: now)
        #expect(old.end - old.start == RoundPlanner.maximumWindowMs)
    }

    @Test("after a sweep: finished ones are fetched (due or not), running ones need no query, unseen ones do")
    func classify() {
        let outcome = RoundPlanner.classify(
            due: ["done", "running", "pending", "missing"], waiting: ["earlyDone", "stillWaiting"],
            seen: ["done": .succeeded, "running": .running, "pending": .pending, "earlyDone": .failed, "stillWaiting": .running])
        #expect(outcome.fetch == ["done", "earlyDone"])
        #expect(outcome.stillRunning.map(\.0) == ["running", "pending"])
        #expect(outcome.unseen == ["missing"])
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
