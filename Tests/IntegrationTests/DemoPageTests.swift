import Foundation
import Testing
@testable import Common

extension Integration {
/// The demo page at nginx's `/`, driven in headless Chromium by scripts/demo-browser-check.py
/// (clicks a user, a picture, Start; waits with a deadline for the page's final status).
@Suite("demo page in headless Chromium")
struct DemoPageTests {
    static func drive(_ arguments: [String]) throws -> (status: Int32, report: JSONValue?) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["scripts/demo-browser-check.py", Stack.nginx + "/"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, try? JSONParser().parse(Array(text.utf8)))
    }

    @Test("Alice out-paints her picture: the page walks PENDING → … → SUCCEEDED and shows the result image")
    func succeeds() throws {
        try Stack.waitAnswering()
        let screenshot = "\(Stack.runDir)/demo-screenshot.png"
        let run = try Self.drive([screenshot, "--user", "1", "--picture", "1", "--timeout", "60"])
        #expect(run.status == 0, "\(String(describing: run.report))")
        #expect(run.report?["status"]?.stringValue == "SUCCEEDED")
        #expect(run.report?["result_image_loaded"] == .bool(true))
        guard case .array(let seen)? = run.report?["statuses_seen"] else { Issue.record("no statuses"); return }
        #expect(seen.first?.stringValue == "PENDING", "the page showed the task queued before it finished")
        #expect(FileManager.default.fileExists(atPath: screenshot))
    }

    @Test("Bob may not edit Alice's private picture: the page says so, no task starts")
    func refused() throws {
        let run = try Self.drive(["\(Stack.runDir)/demo-refused.png", "--user", "2", "--picture", "2", "--expect-error", "Not allowed"])
        #expect(run.status == 0, "\(String(describing: run.report))")
        #expect(run.report?["error"]?.stringValue?.contains("40101") == true)
    }
}
}
