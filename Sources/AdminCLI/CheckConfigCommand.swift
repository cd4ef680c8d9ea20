import ArgumentParser
import Common
import Foundation

/// `outpainting check-config`: validates the environment and reaches every dependency.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the environment and reach MySQL, Kafka, DashScope and the login endpoint.",
        discussion: "Spends one DashScope list query (skip with --skip-dashscope). Exit 1 if any check fails.")

    @Flag(help: "Do not call DashScope.")
    var skipDashscope = false

    @OptionGroup var output: OutputOptions

    struct Check {
        let name: String
        let ok: Bool
        let detail: String
    }

    func run() throws {
        let context = AdminContext()
        var checks: [Check] = []
        func check(_ name: String, _ body: () throws -> String) {
            do { checks.append(Check(name: name, ok: true, detail: try body())) } catch {
                checks.append(Check(name: name, ok: false, detail: "\(error)"))
            }
        }
        check("profile") {
            if DeploymentProfile.isDev(context.env) { return "OUTPAINTING_PROFILE=dev: the local stack's defaults apply (never in production)" }
            try DeploymentProfile.check(context.env, for: .fcgi(loginMode: context.env.string("LOGIN_MODE", default: "cookie")))
            let development = DeploymentProfile.developmentValues(context.env)
            guard development.isEmpty else { throw CheckError("development values outside the dev profile: \(development.joined(separator: "; "))") }
            return "production: every required variable is set, none points at the local stack"
        }
        check("environment") {
            let mysql = try MySQLConfiguration.fromEnvironment(context.env)
            let dash = try DashScopeConfiguration.fromEnvironment(context.env)
            guard !dash.apiKey.isEmpty else { throw CheckError("DASHSCOPE_API_KEY is empty") }
            guard dash.baseURL.hasPrefix("http://") || dash.baseURL.hasPrefix("https://") else {
                throw CheckError("DASHSCOPE_BASE_URL must start with http:// or https://")
            }
            return "MySQL \(mysql.endpointDescription), DashScope \(dash.baseURL), Kafka \(context.bootstrapServers), topic \(context.topic)"
        }
        check("mysql") {
            let db = try context.mysql()
            let tasks = try db.query("SELECT COUNT(*) AS n FROM out_painting_task").first?.int("n") ?? 0
            let host = try db.query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('user', 'picture', 'space', 'space_user')").first?.int("n") ?? 0
            guard host == 4 else { throw CheckError("the host's tables user, picture, space, space_user are not all in this schema (\(host) of 4)") }
            return "out_painting_task has \(tasks) rows; host tables present"
        }
        check("kafka") {
            let consumer = try context.consumer(groupID: nil, topics: [])
            defer { consumer.close() }
            var found: [String] = []
            for topic in [context.topic, context.deadLetterTopic] {
                let count = try consumer.partitionCount(topic: topic, timeout: .seconds(5))
                guard count > 0 else { throw CheckError("topic \(topic) does not exist (create it; producers do not)") }
                found.append("\(topic) (\(count) partitions)")
            }
            return found.joined(separator: ", ")
        }
        if !skipDashscope {
            check("dashscope") {
                let client = try context.dashScope()
                do {
                    let page = try client.list(startTime: nil, endTime: nil, status: nil, pageNo: 1, pageSize: 1)
                    return "key accepted; \(page.total) tasks listed for this account"
                } catch let error as DashScopeError {
                    if error.kind == .unauthorized { throw CheckError("DashScope refused the API key (\(error.httpStatus)): check DASHSCOPE_API_KEY") }
                    throw error
                }
            }
        }
        check("login") {
            let url = context.env.string("LOGIN_URL", default: DeploymentProfile.devDefault(context.env, "http://127.0.0.1:8089/api/user/get/login"))
            let response = try HTTPClient().send(HTTPRequest(url: url, headers: [("Accept", "application/json")], timeout: .seconds(5)))
            guard response.status == 200 || response.status == 401, (try? JSONParser().parse(response.body))?["code"] != nil || response.status == 401 else {
                throw CheckError("\(url) answered HTTP \(response.status) without the host's envelope")
            }
            return "\(url) answers (HTTP \(response.status) without a session)"
        }
        AdminContext.emit(json: output.json, .object([
            ("ok", .bool(checks.allSatisfy(\.ok))),
            ("checks", .array(checks.map { .object([("name", .string($0.name)), ("ok", .bool($0.ok)), ("detail", .string($0.detail))]) })),
        ])) {
            checks.map { "\($0.ok ? "ok  " : "FAIL") \($0.name.padding(12)) \($0.detail)" }
        }
        if !checks.allSatisfy(\.ok) { throw AdminExit.checkFailed }
    }

    struct CheckError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
