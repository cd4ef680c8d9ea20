import ArgumentParser
import Common
import Foundation
import Logging

/// W2: a busy site. Each simulated user gets a picture whose simulated task duration is drawn from a
/// log-normal distribution, starts one task through nginx at its moment in the spawn window, then
/// polls get_task every `poll` seconds — as the host's frontend does — until the page would show a
/// final state. Writes one JSON object per user.
struct SiteLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "site-load", abstract: "Simulated users through nginx (W2).")

    @Option(help: "Base URL of nginx for the system under test.") var baseURL = "http://127.0.0.1:8080"
    @Option(help: "Users.") var users = 200
    @Option(help: "Users start evenly within this many seconds.") var spawnSeconds = 100.0
    @Option(help: "get_task polling interval (s).") var pollSeconds = 3.0
    @Option(help: "Median task duration (ms).") var medianMs = 15_000.0
    @Option(help: "95th percentile task duration (ms).") var p95Ms = 60_000.0
    @Option(help: "Give up on a user after this many seconds.") var deadlineSeconds = 900.0
    @Option(help: "Random seed (the same durations for every system).") var seed: UInt64 = 42
    @Option(help: "First user/picture id (distinct per run).") var firstId: Int64 = 800_000_000
    @Option(help: "Where to write the JSON lines.") var out: String

    func run() throws {
        let env = EnvironmentReader.process
        let logger = LoggingSetup.bootstrap(label: "outpainting.bench.site", environment: env)
        try NativeLibraries.initialize()
        let devServer = env.string("DEVSERVER_PUBLIC_URL", default: "http://127.0.0.1:8089")
        var distribution = LogNormal(median: medianMs, p95: p95Ms, seed: seed)
        let durations = distribution.samples(users)
        let connection = try MySQLConnection(try MySQLConfiguration.fromEnvironment(env))
        for i in 0..<users {
            let id = firstId + Int64(i)
            try connection.execute("INSERT INTO user (id, userAccount, userRole) VALUES (?, ?, 'user')", [.int(id), .string("bench-\(id)")])
            try connection.execute("INSERT INTO picture (id, url, name, userId) VALUES (?, ?, 'bench', ?)",
                                   [.int(id), .string("\(devServer)/images/b.png?sim_duration_ms=\(Int(durations[i]))"), .int(id)])
        }
        let results = ResultsFile(path: out)
        let start = Date().addingTimeInterval(0.5)
        let (users, spawn, poll, deadline, base, firstId) = (self.users, spawnSeconds, pollSeconds, deadlineSeconds, baseURL, self.firstId)
        let pool = OwnedThreads(name: "site-user")
        pool.start(count: users, stackSize: 256 << 10) { i in
            let user = SimulatedUser(index: i, id: firstId + Int64(i), base: base, poll: poll, durationMs: durations[i])
            let startAt = start.addingTimeInterval(spawn * Double(i) / Double(users))
            Thread.sleep(until: startAt)
            results.append(user.run(deadline: startAt.addingTimeInterval(deadline)))
        }
        pool.joinBlocking()
        logger.info("site load done", metadata: ["users": "\(users)"])
    }
}

/// One user of the site: create, then poll like the frontend.
struct SimulatedUser {
    let index: Int
    let id: Int64
    let base: String
    let poll: Double
    let durationMs: Double

    func run(deadline: Date) -> JSONValue {
        let http = HTTPClient()
        let cookie = ("Cookie", "SESSION=dev-user-\(id)")
        var fields: [(String, JSONValue)] = [("user", .int(id)), ("duration_ms", .int(Int64(durationMs)))]
        let createdAt = Date()
        let reply = try? http.send(HTTPRequest(method: "POST", url: base + "/api/picture/out_painting/create_task",
                                               headers: [cookie, ("Content-Type", "application/json")],
                                               body: Array(#"{"pictureId":"\#(id)"}"#.utf8), timeout: .seconds(30)))
        let json = reply.flatMap { try? JSONParser().parse($0.body) }
        fields.append(("create_epoch", .double(createdAt.timeIntervalSince1970)))
        guard json?["code"]?.int64Value == 0, let taskId = json?["data"]?["output"]?["taskId"]?.stringValue else {
            fields.append(("created", .bool(false)))
            fields.append(("create_code", json?["code"] ?? .null))
            return .object(fields)
        }
        fields += [("created", .bool(true)), ("task_id", .string(taskId))]
        var polls = 0
        while Date() < deadline {
            Thread.sleep(forTimeInterval: poll)
            polls += 1
            guard let answer = try? http.send(HTTPRequest(url: base + "/api/picture/out_painting/get_task?taskId=\(taskId)",
                                                          headers: [cookie], timeout: .seconds(30))),
                  let body = try? JSONParser().parse(answer.body), let output = body["data"]?["output"],
                  let status = output["taskStatus"]?.stringValue.flatMap(TaskStatus.init(rawValue:)), status.isFinal else { continue }
            fields += [("status", .string(status.rawValue)), ("seen_final_epoch", .double(Date().timeIntervalSince1970)),
                       ("end_epoch", output["endTime"]?.stringValue.flatMap(DashScopeTime.parseTaskTime).map { .double($0) } ?? .null)]
            break
        }
        fields.append(("polls", .int(Int64(polls))))
        return .object(fields)
    }
}

/// Log-normal durations from a median and a 95th percentile, with a fixed seed.
struct LogNormal {
    let mu: Double
    let sigma: Double
    var generator: SplitMix64

    init(median: Double, p95: Double, seed: UInt64) {
        mu = log(median)
        sigma = (log(p95) - mu) / 1.6448536269514722
        generator = SplitMix64(seed: seed)
    }

    mutating func samples(_ n: Int) -> [Double] {
        (0..<n).map { _ in
            // Box–Muller.
            let u1 = max(Double(generator.next() >> 11) / Double(1 << 53), .leastNonzeroMagnitude)
            let u2 = Double(generator.next() >> 11) / Double(1 << 53)
            let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
            return exp(mu + sigma * z)
        }
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// JSON lines appended from many threads.
final class ResultsFile: @unchecked Sendable {
    // @unchecked: the handle is written only under `lock`.
    private let lock = NSLock()
    private let handle: FileHandle

    init(path: String) {
        FileManager.default.createFile(atPath: path, contents: nil)
        handle = FileHandle(forWritingAtPath: path)!
    }

    func append(_ json: JSONValue) {
        lock.withLock { handle.write(Data((json.serialized + "\n").utf8)) }
    }
}
