import Foundation
import Testing
@testable import Common

extension Integration {
/// The stack's own tooling: readiness probes, the supervisor's back-off, FcgiApp's readiness endpoint.
@Suite("harness: readiness probes and the supervisor")
struct HarnessTests {
    /// Runs a script of the stack with extra environment; its exit status and output.
    static func run(_ script: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        try Stack.run(script, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    @Test("every component of the running stack passes its readiness probe")
    func allReady() throws {
        for component in Component.allCases {
            let (status, text) = try Self.run("scripts/probe.sh", ["check", component.rawValue])
            #expect(status == 0, "\(component.rawValue): \(text)")
        }
    }

    @Test("a component that never answers is named, with its last error, at its deadline")
    func deadComponentIsNamed() throws {
        // A MariaDB socket that nobody listens on: the same probe, pointed at an empty run directory.
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(Stack.freshID())").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let (status, text) = try Self.run("scripts/probe.sh", ["wait", "mariadb", "1"], environment: ["RUN_DIR": empty])
        #expect(status == 1)
        #expect(text.hasPrefix("mariadb not ready after 1s: SELECT 1: ERROR 2002"), "\(text)")
        #expect(text.contains("\(empty)/mariadb.sock"), "the last error says where it looked: \(text)")

        // FcgiApp's readiness through nginx names an unreachable upstream the same way.
        let (fcgiStatus, fcgiText) = try Self.run("scripts/probe.sh", ["check", "fcgi"], environment: ["NGINX_PORT": "1"])
        #expect(fcgiStatus == 1)
        #expect(fcgiText.contains("/outpainting/healthz") && fcgiText.contains("Failed to connect"), "\(fcgiText)")
    }

    @Test("FcgiApp's readiness endpoint answers ok through nginx after a MySQL round trip")
    func fcgiHealthEndpoint() throws {
        let reply = try Stack.request("GET", "/outpainting/healthz")
        #expect(reply.status == 200)
        #expect(reply.json?["status"]?.stringValue == "ok")
    }

    @Test("the supervisor restarts a dying component with back-off, logging each exit status")
    func supervisorBacksOff() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("supervise-\(Stack.freshID())").path
        try FileManager.default.createDirectory(atPath: dir + "/log", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let supervisor = Process()
        supervisor.executableURL = URL(fileURLWithPath: "scripts/supervise.sh")
        // A component that exits with status 3 at once, every time.
        supervisor.arguments = ["crashing", dir + "/log/crashing.log", "/bin/sh", "-c", "exit 3"]
        supervisor.environment = ProcessInfo.processInfo.environment.merging(["RUN_DIR": dir]) { $1 }
        try supervisor.run()
        // SIGKILL, not SIGTERM: a child of the test process inherits the signal mask of the Dispatch
        // thread that spawned it, with SIGTERM blocked, so the supervisor's trap would never run.
        defer { kill(supervisor.processIdentifier, SIGKILL); supervisor.waitUntilExit() }
        let log = dir + "/log/supervisor.log"
        let lines = Stack.eventually(timeout: .seconds(20), "three restarts") { () -> [String]? in
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
            return lines.count >= 3 ? lines : nil
        }
        let restarts = try #require(lines)
        #expect(restarts[0].hasSuffix("crashing (pid \(restarts[0].pidInLine)) exited with status 3; restart #1 in 1 s"), "\(restarts)")
        #expect(restarts[1].hasSuffix("exited with status 3; restart #2 in 2 s"), "\(restarts)")
        #expect(restarts[2].hasSuffix("exited with status 3; restart #3 in 4 s"), "\(restarts)")
    }
}
}

private extension String {
    /// The pid in a supervisor line "… NAME (pid 123) …".
    var pidInLine: Substring {
        guard let open = range(of: "(pid "), let close = self[open.upperBound...].firstIndex(of: ")") else { return "" }
        return self[open.upperBound..<close]
    }
}
