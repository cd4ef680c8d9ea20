import ArgumentParser
import Common
import Foundation

/// `outpainting task <taskId>`: the row, its check schedule and DashScope's current view.
struct TaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "task", abstract: "Show one task: its row, its checks, and DashScope's view now.")

    @Argument(help: "The DashScope task id.")
    var taskId: String

    @Flag(help: "Do not ask DashScope (no status query is spent).")
    var noDashscope = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reporting {
            let context = AdminContext()
            guard let view = try TaskRepository.adminView(try context.mysql(), taskId: taskId) else {
                throw AdminFailure.notFound("task \(taskId) in out_painting_task")
            }
            var live: Result<DashScopeTaskView, DashScopeError>?
            if !noDashscope {
                let client = try context.dashScope()
                live = Result { () throws(DashScopeError) in try client.task(taskId) }
            }
            let liveJSON: JSONValue = switch live {
            case nil: .null
            case .success(let v)?: .object([("status", .string(v.status.rawValue)), ("endTime", .optionalString(v.endTime)),
                                            ("outputImageUrl", .optionalString(v.outputImageUrl)), ("code", .optionalString(v.code)),
                                            ("message", .optionalString(v.message))])
            case .failure(let e)?: .object([("error", .string("\(e)"))])
            }
            AdminContext.emit(json: output.json, .object([("task", view.json), ("dashscope", liveJSON)])) {
                let r = view.record
                var lines = [
                    "task        \(r.taskId)",
                    "status      \(r.status.rawValue)\(r.status.isFinal ? " (final)" : "")",
                    "picture     \(r.pictureId)   user \(r.userId)",
                    "created     \(view.createTime ?? "-")   (\(r.ageSeconds) s ago)",
                    "checks      \(r.retryCount)   last \(view.lastCheckTime ?? "never")   next \(view.nextCheckTime ?? "-")",
                    "followed by \(view.follower)",
                    "kafka       partition \(r.kafkaPartition.map(String.init) ?? "-") offset \(r.kafkaOffset.map(String.init) ?? "-")",
                ]
                if let end = r.endTime { lines.append("ended       \(end)") }
                if let url = r.outputImageUrl { lines.append("result      \(url)") }
                if r.errorCode != nil || r.errorMessage != nil { lines.append("error       \(r.errorCode ?? "") \(r.errorMessage ?? "")") }
                switch live {
                case nil: break
                case .success(let v)?: lines.append("dashscope   \(v.status.rawValue)\(v.endTime.map { " ended \($0)" } ?? "")")
                case .failure(let e)?: lines.append("dashscope   (query failed: \(e))")
                }
                lines.append("history     not kept per check; the row holds the count, the last and the next check")
                return lines
            }
        }
    }
}

/// `outpainting tasks --status RUNNING --older-than 10m`.
struct TasksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tasks", abstract: "List tasks by status and age, oldest first.")

    @Option(help: "PENDING, RUNNING, SUSPENDED, SUCCEEDED, FAILED, CANCELED or UNKNOWN (default: every status not final).")
    var status: String?

    @Option(help: "Only tasks created longer ago than this (30s, 10m, 2h, 1d).")
    var olderThan = "0s"

    @Option(help: "At most this many.")
    var limit = 50

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let status, TaskStatus(rawValue: status.uppercased()) == nil { throw ValidationError("unknown status \(status)") }
        if AdminContext.seconds(olderThan) == nil { throw ValidationError("--older-than: a duration like 30s, 10m, 2h") }
        if !(1...10_000).contains(limit) { throw ValidationError("--limit: 1…10000") }
    }

    func run() throws {
        try reporting {
            let context = AdminContext()
            let rows = try TaskRepository.search(try context.mysql(), status: status.flatMap { TaskStatus(rawValue: $0.uppercased()) },
                                                 olderThanSeconds: AdminContext.seconds(olderThan) ?? 0, limit: limit)
            AdminContext.emit(json: output.json, .array(rows.map(\.json))) {
                ["\("TASK".padding(40)) \("STATUS".padding(10)) \("AGE".padding(8)) \("CHECKS".padding(6)) LAST CHECK"]
                    + rows.map { v in
                        "\(v.record.taskId.padding(40)) \(v.record.status.rawValue.padding(10)) \("\(v.record.ageSeconds)s".padding(8)) "
                            + "\(String(v.record.retryCount).padding(6)) \(v.lastCheckTime ?? "never")"
                    } + ["\(rows.count) task(s)"]
            }
        }
    }
}

/// `outpainting requeue <taskId>` or `--stuck`: check again now.
struct RequeueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue",
        abstract: "Make tasks checked again now: due at once, and a fresh Kafka message to their Poller.",
        discussion: "Without Kafka the tasks are still made due and unowned; a Poller's reconciler adopts them.")

    @Argument(help: "Task ids.")
    var taskIds: [String] = []

    @Flag(help: "Every open task not checked for --older-than.")
    var stuck = false

    @Option(help: "With --stuck: not checked for this long (30s, 10m, 2h).")
    var olderThan = "10m"

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if taskIds.isEmpty == !stuck { throw ValidationError("give task ids or --stuck (not both)") }
        if AdminContext.seconds(olderThan) == nil { throw ValidationError("--older-than: a duration like 30s, 10m, 2h") }
    }

    func run() throws {
        try reporting {
            let context = AdminContext()
            let db = try context.mysql()
            let ids = stuck
                ? try TaskRepository.stuck(db, notCheckedForSeconds: AdminContext.seconds(olderThan) ?? 600, limit: 10_000).map(\.record)
                : try taskIds.compactMap { try TaskRepository.find(db, taskId: $0) }
            let known = Set(ids.map(\.taskId))
            var results: [(String, String)] = taskIds.filter { !known.contains($0) }.map { ($0, "not found") }
            var producer: KafkaProducer?
            for record in ids {
                guard try TaskRepository.requeue(db, taskId: record.taskId) else {
                    results.append((record.taskId, "final (\(record.status.rawValue)); nothing to do"))
                    continue
                }
                let message = OutPaintingTaskMessage(taskId: record.taskId, pictureId: record.pictureId, userId: record.userId,
                                                     createTime: record.createdAtEpochMilliseconds)
                do {
                    if producer == nil { producer = try context.producer() }
                    let report = try producer!.send(topic: context.topic, key: record.taskId, value: message.encoded, timeout: .seconds(10))
                    try? TaskRepository.recordDelivery(db, taskId: record.taskId, report: report)
                    // A Poller already following the task keeps its schedule on a repeated message;
                    // the hint (same key, same partition, after it) makes it check now.
                    var hint = message
                    hint.isCompletionHint = true
                    _ = try producer!.send(topic: context.topic, key: record.taskId, value: hint.encoded, timeout: .seconds(10))
                    results.append((record.taskId, "requeued (partition \(report.partition), offset \(report.offset))"))
                } catch {
                    results.append((record.taskId, "due now; Kafka refused (\(error)), a reconciler will adopt it"))
                }
            }
            producer?.closeBlocking()
            AdminContext.emit(json: output.json, .array(results.map { .object([("taskId", .string($0.0)), ("result", .string($0.1))]) })) {
                results.map { "\($0.0)  \($0.1)" } + ["\(results.count) task(s)"]
            }
            if results.contains(where: { $0.1 == "not found" }) { throw AdminFailure.notFound("some task ids") }
        }
    }
}

extension String {
    /// Left-aligned in `width` columns (longer text is kept whole).
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
