import Testing
@testable import Common

@Suite("host envelope and DTOs")
struct EnvelopeTests {
    @Test("success and failure envelopes have the host's shape")
    func envelopes() throws {
        #expect(Envelope.success(.object([("a", .int(1))])) == #"{"code":0,"data":{"a":1},"message":"ok"}"#)
        #expect(Envelope.failure(BusinessError(.notLogin)) == #"{"code":40100,"data":null,"message":"未登录"}"#)
        let custom = try JSONParser.parse(Envelope.failure(BusinessError(.notFound, "图片不存在")))
        #expect(custom["code"]?.int64Value == 40400 && custom["message"] == .string("图片不存在") && custom["data"] == .null)
    }

    @Test("every code has the documented default message")
    func codes() {
        let expected: [HostErrorCode: (Int, String)] = [
            .success: (0, "ok"), .paramsError: (40000, "请求参数错误"), .notLogin: (40100, "未登录"),
            .noAuth: (40101, "无权限"), .forbidden: (40300, "禁止访问"), .notFound: (40400, "请求数据不存在"),
            .systemError: (50000, "系统内部异常"), .operationError: (50001, "操作失败"),
        ]
        for code in HostErrorCode.allCases {
            #expect(code.rawValue == expected[code]?.0 && code.defaultMessage == expected[code]?.1)
        }
    }

    private func record(_ status: TaskStatus) -> TaskRecord {
        TaskRecord(taskId: "t-1", pictureId: 7, userId: 9, status: status, outputImageUrl: status == .succeeded ? "https://r/x.png" : nil,
                   errorCode: status == .failed ? "InternalError.Algo" : nil, errorMessage: status == .failed ? "algorithm process error" : nil,
                   requestId: "req-1", submitTime: "2026-11-29 10:00:00.123", scheduledTime: nil, endTime: nil, retryCount: 1,
                   pollerPartition: nil, kafkaPartition: nil, kafkaOffset: nil, ageSeconds: 0)
    }

    @Test("get_task DTO: camelCase, explicit nulls, metrics on final states")
    func getTaskDTO() throws {
        let succeeded = record(.succeeded).hostJSON(requestId: "fallback")
        #expect(succeeded.serialized == #"{"requestId":"req-1","output":{"taskId":"t-1","taskStatus":"SUCCEEDED","submitTime":"2026-11-29 10:00:00.123","scheduledTime":null,"endTime":null,"outputImageUrl":"https://r/x.png","code":null,"message":null,"taskMetrics":{"total":1,"succeeded":1,"failed":0}}}"#)
        let failed = record(.failed).hostJSON(requestId: "fallback")
        #expect(failed["output"]?["code"] == .string("InternalError.Algo"))
        #expect(failed["output"]?["taskMetrics"]?["failed"]?.int64Value == 1)
        #expect(record(.running).hostJSON(requestId: "x")["output"]?["taskMetrics"] == .null)
    }
}
