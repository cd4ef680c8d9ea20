import Testing
@testable import Common

@Suite("the Kafka task message")
struct TaskMessageTests {
    @Test("round trip with the original field names")
    func roundTrip() throws {
        let message = OutPaintingTaskMessage(taskId: "abc", pictureId: 1_890_000_000_000_000_001, userId: 2,
                                             createTime: 1_764_400_000_000, retryCount: 3)
        let text = String(decoding: message.encoded, as: UTF8.self)
        #expect(text == #"{"taskId":"abc","pictureId":1890000000000000001,"userId":2,"createTime":1764400000000,"retryCount":3}"#)
        #expect(try OutPaintingTaskMessage.decode(message.encoded) == message)
    }

    @Test("the Java producer's variants are accepted: ids as strings, missing retryCount")
    func javaVariants() throws {
        let m = try OutPaintingTaskMessage.decode(Array(#"{"taskId":"t","pictureId":"5","userId":"6","createTime":"1700000000000"}"#.utf8))
        #expect(m == OutPaintingTaskMessage(taskId: "t", pictureId: 5, userId: 6, createTime: 1_700_000_000_000, retryCount: 0))
    }

    @Test("a createTime outside Int64 is 0, not a crash (fuzzer finding)")
    func hugeCreateTime() throws {
        let m = try OutPaintingTaskMessage.decode(Array(#"{"taskId":"t","hint":true,"createTime":170000000700000000000}"#.utf8))
        #expect(m.createTime == 0 && m.isCompletionHint)
        let f = try OutPaintingTaskMessage.decode(Array(#"{"taskId":"t","pictureId":1,"userId":2,"createTime":1.7e12}"#.utf8))
        #expect(f.createTime == 1_700_000_000_000)
    }

    @Test("messages without a usable taskId are refused", arguments: ["{}", "[]", "garbage", #"{"taskId":""}"#, #"{"taskId":7}"#])
    func refused(_ text: String) {
        #expect(throws: (any Error).self) { try OutPaintingTaskMessage.decode(Array(text.utf8)) }
    }
}
