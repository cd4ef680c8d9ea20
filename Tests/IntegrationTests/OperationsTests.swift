import Foundation
import Testing
@testable import Common

extension Integration {
/// What operators look at: metrics, health, the nginx configuration.
@Suite("operations: metrics, health, nginx config")
struct OperationsTests {
    static func get(_ url: String) throws -> HTTPResponse {
        _ = Stack.initialized
        return try HTTPClient().send(HTTPRequest(url: url, timeout: .seconds(5)))
    }

    @Test("after a task, both metrics endpoints show the outpainting_ series; /healthz is ok")
    func metrics() throws {
        let tasks = try Stack.createTasks(2, durations: 300...600, failEvery: 2)
        Stack.expectRightOutcomes(tasks, try Stack.waitAllFinal(tasks, timeout: .seconds(30)))
        _ = try Stack.getTask(tasks[0].taskId, cookie: nil)

        let pollerURL = "http://\(Stack.env.string("POLLER_METRICS_ADDRESS", default: "127.0.0.1:9400"))"
        let poller = try Self.get(pollerURL + "/metrics")
        #expect(poller.status == 200)
        let pollerText = poller.bodyText
        for series in ["outpainting_tasks_finished_total{status=\"SUCCEEDED\"}", "outpainting_tasks_finished_total{status=\"FAILED\"}",
                       "outpainting_status_queries_total{", "outpainting_dashscope_latency_seconds_bucket{",
                       "outpainting_batch_size_bucket", "outpainting_commit_latency_seconds_count", "outpainting_tasks_in_flight",
                       "outpainting_check_lateness_seconds_count", "outpainting_detection_delay_seconds_count",
                       "outpainting_consumer_lag{partition="] {
            #expect(pollerText.contains(series), "Poller metrics lack \(series)")
        }
        let responder = try Self.get(Stack.nginx + "/outpainting/metrics")
        #expect(responder.status == 200)
        for series in ["outpainting_tasks_created_total", "outpainting_responder_requests_total{endpoint=\"create_task\",code=\"0\"}",
                       "outpainting_responder_requests_total{endpoint=\"get_task\",code=\"40100\"}",
                       "outpainting_responder_latency_seconds_bucket{", "outpainting_login_checks_total{",
                       "outpainting_dashscope_requests_total{call=\"create\",outcome=\"ok\"}"] {
            #expect(responder.bodyText.contains(series), "FcgiApp metrics lack \(series)")
        }
        // Bounded labels: no task or user id in any series.
        for text in [pollerText, responder.bodyText] {
            #expect(!tasks.contains { text.contains($0.taskId) })
        }

        let health = try Self.get(pollerURL + "/healthz")
        #expect(health.status == 200)
        #expect((try? JSONParser().parse(health.body))?["status"]?.stringValue == "ok")
    }

    @Test("the systemd units pass systemd-analyze verify")
    func systemdUnits() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "deploy/verify-units.sh")
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
    }

    @Test("nginx -t accepts the stack's configuration (both snippets included)")
    func nginxConfig() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-t", "-p", "\(Stack.runDir)/nginx", "-c", "conf/nginx.conf"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        let conf = try String(contentsOfFile: "\(Stack.runDir)/nginx/conf/nginx.conf", encoding: .utf8)
        #expect(conf.contains("nginx/outpainting.conf") && conf.contains("outpainting-trusted.local.conf"))
    }
}
}
