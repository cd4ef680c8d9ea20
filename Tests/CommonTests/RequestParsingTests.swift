import Testing
@testable import Common

@Suite("create_task and get_task input")
struct RequestParsingTests {
    private func parse(_ body: String) throws(BusinessError) -> CreateTaskRequest {
        try CreateTaskRequest.parse(body: Array(body.utf8))
    }

    @Test("ids as numbers or numeric strings are accepted", arguments: [
        (#"{"pictureId": 42}"#, Int64(42)),
        (#"{"pictureId": "42"}"#, 42),
        (#"{"pictureId": "9223372036854775807"}"#, Int64.max),
        (#"{"pictureId": 1890000000000000001, "unknown": [1]}"#, 1_890_000_000_000_000_001),
    ])
    func acceptedIDs(body: String, id: Int64) throws {
        #expect(try parse(body).pictureID == id)
    }

    @Test("bad bodies and ids are 40000", arguments: [
        "", "not json", "[]", "null", "\"x\"", "1", "{}", #"{"pictureId": null}"#, #"{"pictureId": "abc"}"#,
        #"{"pictureId": -1}"#, #"{"pictureId": 0}"#, #"{"pictureId": 1.5}"#, #"{"pictureId": 1e3}"#,
        #"{"pictureId": 9223372036854775808}"#, #"{"pictureId": {"id": 1}}"#, #"{"pictureId": "12a"}"#,
        #"{"pictureId": "12\u0000"}"#, #"{"pictureId": " 12"}"#, #"{"pictureId": "+12"}"#, #"{"pictureId": true}"#,
    ])
    func rejectedBodies(body: String) {
        do { _ = try parse(body); Issue.record("accepted \(body)") } catch { #expect(error.code == .paramsError) }
    }

    @Test("a body over the limit is 40000 without parsing")
    func tooLarge() {
        do { _ = try CreateTaskRequest.parse(body: Array("{}".utf8), bodyTooLarge: true); Issue.record("accepted") } catch {
            #expect(error == BusinessError(.paramsError, "请求体过大"))
        }
    }

    @Test("parameters: defaults, camelCase names, numeric strings")
    func parameters() throws {
        #expect(try parse(#"{"pictureId":1}"#).parameters == OutPaintingParameters())
        let p = try parse(#"{"pictureId":1,"parameters":{"angle":"90","outputRatio":"16:9","xScale":2,"yScale":"1.5","topOffset":10,"bestQuality":true,"addWatermark":false,"extra":"ignored"}}"#).parameters
        #expect(p.angle == 90 && p.outputRatio == "16:9" && p.xScale == 2 && p.yScale == 1.5 && p.topOffset == 10)
        #expect(p.bestQuality && !p.addWatermark && p.limitImageSize)
    }

    @Test("parameters out of DashScope's ranges are 40000 naming the parameter", arguments: [
        (#"{"angle":360}"#, "angle"), (#"{"angle":-1}"#, "angle"), (#"{"angle":1.5}"#, "angle"),
        (#"{"outputRatio":"2:1"}"#, "outputRatio"), (#"{"outputRatio":1}"#, "outputRatio"),
        (#"{"xScale":0.5}"#, "xScale"), (#"{"xScale":3.01}"#, "xScale"), (#"{"yScale":"big"}"#, "yScale"),
        (#"{"topOffset":-5}"#, "topOffset"), (#"{"leftOffset":99999999}"#, "leftOffset"),
        (#"{"topOffset":6144,"bottomOffset":6144}"#, "topOffset"), (#"{"bestQuality":"yes"}"#, "bestQuality"),
        (#"[]"#, "parameters"), (#""x""#, "parameters"),
    ])
    func outOfRange(parameters: String, name: String) {
        do {
            _ = try parse(#"{"pictureId":1,"parameters":"# + parameters + "}")
            Issue.record("accepted \(parameters)")
        } catch {
            #expect(error.code == .paramsError)
            #expect(error.message.contains(name))
        }
    }

    @Test("DashScope receives snake_case parameters")
    func dashScopeShape() {
        var p = OutPaintingParameters()
        p.outputRatio = "4:3"
        let json = p.dashScopeJSON
        #expect(json["output_ratio"] == .string("4:3"))
        #expect(json["x_scale"]?.doubleValue == 1.0)
        #expect(json["limit_image_size"] == .bool(true))
    }

    @Test("get_task taskId: accepted values", arguments: [
        ("taskId=abc-123", "abc-123"), ("x=1&taskId=a%2Fb", "a/b"), ("taskId=" + String(repeating: "a", count: 128), String(repeating: "a", count: 128)),
        ("taskId=%27+OR+%271%27%3D%271", nil),
    ])
    func taskIDs(query: String, expected: String?) throws {
        if let expected {
            #expect(try GetTaskRequest.taskID(fromQuery: query) == expected)
        } else {
            // Contains spaces: not printable-without-space ASCII, so refused before any SQL.
            #expect(throws: BusinessError.self) { try GetTaskRequest.taskID(fromQuery: query) }
        }
    }

    @Test("get_task taskId: missing, blank, long, non-printable are 40000", arguments: [
        "", "taskId", "taskId=", "taskId=%20%20", "other=1", "taskId=" + String(repeating: "a", count: 129),
        "taskId=a%00b", "taskId=%E6%89%A9", "taskId=%zz", "taskId=a%0Ab",
    ])
    func badTaskIDs(query: String) {
        do { _ = try GetTaskRequest.taskID(fromQuery: query); Issue.record("accepted \(query)") } catch {
            #expect(error.code == .paramsError)
        }
    }

    @Test("create_task body type: application/json with any parameters, case-insensitive; nothing else")
    func jsonContentType() {
        for type in ["application/json", "application/json;charset=UTF-8", "Application/JSON; charset=utf-8", " application/json "] {
            #expect(CreateTaskRequest.isJSON(contentType: type), "\(type)")
        }
        for type in [nil, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                     "application/jsonp", "application/json-patch+json", "text/json"] {
            #expect(!CreateTaskRequest.isJSON(contentType: type), "\(String(describing: type))")
        }
    }
}
