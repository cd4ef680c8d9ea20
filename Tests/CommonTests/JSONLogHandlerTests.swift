import Logging
import Testing
@testable import Common

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("one parseable object per line, fixed fields first, metadata kept, newlines escaped")
    func line() throws {
        let text = JSONLogHandler.line(timestamp: "2026-11-29T20:00:00.123Z", level: .error, label: "outpainting.poller",
                                       message: "task finished\nsecond line",
                                       metadata: ["taskId": "t-1", "requestId": .stringConvertible(42), "list": ["a", "b"]],
                                       source: "Poller", file: "/x/Sources/Poller/PollerEngine.swift", line: 7)
        #expect(!text.contains("\n"))
        let json = try JSONParser().parse(Array(text.utf8))
        #expect(text.hasPrefix(#"{"ts":"2026-11-29T20:00:00.123Z","level":"error","logger":"outpainting.poller","msg":"#))
        #expect(json["msg"]?.stringValue == "task finished\nsecond line")
        #expect(json["taskId"]?.stringValue == "t-1")
        #expect(json["requestId"]?.stringValue == "42")
        #expect(json["source"]?.stringValue == "PollerEngine.swift:7")
    }

    @Test("the timestamp is RFC 3339 UTC with milliseconds")
    func timestamp() {
        let ts = JSONLogHandler.now()
        #expect(ts.count == 24 && ts.hasSuffix("Z") && Array(ts)[10] == "T")
    }
}
