/// Every statement the service runs against `out_painting_task`, each a prepared statement with
/// bound values.
public enum TaskRepository {
    static let finalList = TaskStatus.finalRawValues.map { "'\($0)'" }.joined(separator: ",")
    /// DashScope's words for a task not finished yet: what the Pollers follow (an intent,
    /// `SUBMITTING`, is neither open nor final: only settlement touches it).
    static let openList = TaskStatus.allCases.filter { !$0.isFinal }.map { "'\($0.rawValue)'" }.joined(separator: ",")
    static let rankOfStoredStatus =
        "CASE taskStatus WHEN 'PENDING' THEN 0 WHEN 'RUNNING' THEN 1 WHEN 'SUSPENDED' THEN 1 ELSE 2 END"
    static let columns = """
        taskId, pictureId, userId, taskStatus, outputImageUrl, errorCode, errorMessage, requestId,
        DATE_FORMAT(submitTime, '%Y-%m-%d %H:%i:%s.%f') AS submitTime,
        DATE_FORMAT(scheduledTime, '%Y-%m-%d %H:%i:%s.%f') AS scheduledTime,
        DATE_FORMAT(endTime, '%Y-%m-%d %H:%i:%s.%f') AS endTime,
        retryCount,
        pollerPartition, kafkaPartition, kafkaOffset, TIMESTAMPDIFF(SECOND, createTime, NOW()) AS ageSeconds,
        CAST(UNIX_TIMESTAMP(createTime) * 1000 AS SIGNED) AS createdAtMs
        """

    // MARK: - Create

    /// Stores a task DashScope accepted.
    public static func insert(_ connection: MySQLConnection, taskId: String, pictureId: Int64, userId: Int64,
                              status: TaskStatus, requestId: String, parameters: OutPaintingParameters) throws {
        try connection.execute("""
            INSERT INTO out_painting_task (taskId, pictureId, userId, taskStatus, requestId, requestParameters, retryCount)
            VALUES (?, ?, ?, ?, ?, ?, 0)
            """, [.string(taskId), .int(pictureId), .int(userId), .string(status.rawValue), .string(requestId),
                  .string(parameters.hostJSON.serialized)])
    }

    /// The task the same user created for the same picture with the same parameters within the
    /// last `windowSeconds` (a double click), if any.
    /// A task whose create answer was lost and later found counts for a day, whatever the window:
    /// its user was told the outcome was unknown, so a retry may come much later, and gets it.
    /// Unsettled intents and submissions DashScope never received are not tasks.
    public static func recentDuplicate(_ connection: MySQLConnection, userId: Int64, pictureId: Int64,
                                       parameters: OutPaintingParameters, windowSeconds: Int) throws -> TaskRecord? {
        try connection.query("""
            SELECT \(columns) FROM out_painting_task
            WHERE userId = ? AND pictureId = ? AND requestParameters = ? AND isDelete = 0 AND taskStatus <> ?
              AND (errorCode IS NULL OR errorCode <> 'SubmissionNotAccepted')
              AND (createTime >= NOW() - INTERVAL ? SECOND OR (submissionOutcome = ? AND createTime >= NOW() - INTERVAL 1 DAY))
            ORDER BY id DESC LIMIT 1
            """, [.int(userId), .int(pictureId), .string(parameters.hostJSON.serialized), .string(SubmissionRepository.status),
                  .int(Int64(windowSeconds)), .string(SubmissionRepository.unclearOutcome)]).first.map(record)
    }

    /// Claims the right to query DashScope live for a task: true for exactly one of several
    /// concurrent get_task calls (in any FcgiApp process), and only if nobody — Poller included —
    /// checked the task within `intervalMilliseconds` (a task never checked counts from its creation:
    /// the Poller checks it first).
    public static func claimLiveCheck(_ connection: MySQLConnection, taskId: String, intervalMilliseconds: Int64) throws -> Bool {
        try connection.execute("""
            UPDATE out_painting_task SET lastCheckTime = NOW(3)
            WHERE taskId = ? AND taskStatus NOT IN (\(finalList))
              AND COALESCE(lastCheckTime, createTime) < NOW(3) - INTERVAL ? MICROSECOND
            """, [.string(taskId), .int(intervalMilliseconds * 1000)]).affectedRows == 1
    }

    /// Records where the broker stored the task's message (proof the produce was acknowledged).
    public static func recordDelivery(_ connection: MySQLConnection, taskId: String, report: KafkaDeliveryReport) throws {
        try connection.execute("UPDATE out_painting_task SET kafkaPartition = ?, kafkaOffset = ? WHERE taskId = ?",
                               [.int(Int64(report.partition)), .int(report.offset), .string(taskId)])
    }

    // MARK: - Read

    public static func find(_ connection: MySQLConnection, taskId: String) throws -> TaskRecord? {
        try connection.query("SELECT \(columns) FROM out_painting_task WHERE taskId = ? AND isDelete = 0",
                             [.string(taskId)]).first.map(record)
    }

    /// What following a task needs: a narrow row, so that a partition with 100,000 open tasks
    /// loads in little memory.
    public struct OpenTask: Sendable, Equatable {
        public let taskId: String
        public let status: TaskStatus
        public let retryCount: Int
        public let ageSeconds: Int64
        public let createdAtEpochMilliseconds: Int64
    }

    /// One page (by taskId) of the tasks a partition's consumer must follow: not final, claimed by
    /// that partition.
    public static func openTasks(_ connection: MySQLConnection, partition: Int32, after taskId: String = "",
                                 limit: Int = 5000) throws -> [OpenTask] {
        try connection.query("""
            SELECT taskId, taskStatus, retryCount, TIMESTAMPDIFF(SECOND, createTime, NOW()) AS ageSeconds,
                   CAST(UNIX_TIMESTAMP(createTime) * 1000 AS SIGNED) AS createdAtMs
            FROM out_painting_task
            WHERE pollerPartition = ? AND taskStatus IN (\(openList)) AND isDelete = 0 AND taskId > ?
            ORDER BY taskId LIMIT ?
            """, [.int(Int64(partition)), .string(taskId), .int(limit)]).map { row in
            OpenTask(taskId: row["taskId"] ?? "", status: row["taskStatus"].flatMap(TaskStatus.init(rawValue:)) ?? .pending,
                     retryCount: row.int("retryCount") ?? 0,
                     ageSeconds: row.int64("ageSeconds") ?? 0, createdAtEpochMilliseconds: row.int64("createdAtMs") ?? 0)
        }
    }

    /// Tasks no consumer is following: never claimed `unclaimedAfterSeconds` after creation (the
    /// produce failed, the message was lost, or its partition's owner is gone), or claimed (or
    /// adopted) but not checked for `staleAfterSeconds` (their follower stopped).
    public static func orphans(_ connection: MySQLConnection, unclaimedAfterSeconds: Int, staleAfterSeconds: Int,
                               limit: Int) throws -> [TaskRecord] {
        try connection.query("""
            SELECT \(columns) FROM out_painting_task
            WHERE taskStatus IN (\(openList)) AND isDelete = 0
              AND ((pollerPartition IS NULL AND createTime < NOW() - INTERVAL ? SECOND)
                OR (pollerPartition IS NOT NULL AND COALESCE(lastCheckTime, createTime) < NOW(3) - INTERVAL ? SECOND))
            ORDER BY createTime LIMIT ?
            """, [.int(unclaimedAfterSeconds), .int(staleAfterSeconds), .int(limit)]).map(record)
    }

    /// Takes the reconciler's lease on adopting a task: true for exactly one of several
    /// reconcilers racing, and again only after `leaseSeconds`.
    public static func leaseRequeue(_ connection: MySQLConnection, taskId: String, leaseSeconds: Int) throws -> Bool {
        try connection.execute("""
            UPDATE out_painting_task SET requeueTime = NOW(3)
            WHERE taskId = ? AND taskStatus NOT IN (\(finalList))
              AND (requeueTime IS NULL OR requeueTime < NOW(3) - INTERVAL ? SECOND)
            """, [.string(taskId), .int(leaseSeconds)]).affectedRows == 1
    }

    // MARK: - Poller updates

    /// Marks the task as followed by `partition`'s consumer. Returns the row, or nil when the task
    /// is unknown. A final task is returned unchanged (nothing to follow).
    public static func claim(_ connection: MySQLConnection, taskId: String, partition: Int32,
                             firstCheckInMilliseconds: Int) throws -> TaskRecord? {
        try claim(connection, tasks: [(taskId, partition)], firstCheckInMilliseconds: firstCheckInMilliseconds)[taskId]
    }

    /// How many tasks one `claim(_:tasks:…)` statement names. Shorter chunks are padded by
    /// repeating an id, so every call reuses the same two prepared statements.
    static let claimChunk = 100

    /// Marks many tasks as followed, each by the consumer of the partition it came with, in the
    /// given order (callers sort by taskId: one lock order), `claimChunk` per statement — a backlog
    /// costs two round trips per hundred tasks, not two per task.
    /// - Returns: the rows found, by taskId; an unknown task is absent.
    public static func claim(_ connection: MySQLConnection, tasks: [(taskId: String, partition: Int32)],
                             firstCheckInMilliseconds: Int) throws -> [String: TaskRecord] {
        let placeholders = Array(repeating: "?", count: claimChunk).joined(separator: ",")
        var found: [String: TaskRecord] = [:]
        found.reserveCapacity(tasks.count)
        var start = 0
        while start < tasks.count {
            let chunk = tasks[start..<min(start + claimChunk, tasks.count)]
            start += claimChunk
            let padded = (0..<claimChunk).map { chunk[chunk.startIndex + min($0, chunk.count - 1)] }
            let ids = padded.map { MySQLValue.string($0.taskId) }
            // ELT(FIELD(taskId, ids…), partitions…): each row gets its own partition in one statement.
            try connection.execute("""
                UPDATE out_painting_task
                SET pollerPartition = ELT(FIELD(taskId, \(placeholders)), \(placeholders)),
                    nextCheckTime = COALESCE(nextCheckTime, NOW(3) + INTERVAL ? MICROSECOND)
                WHERE taskId IN (\(placeholders)) AND taskStatus NOT IN (\(finalList))
                """, ids + padded.map { .int(Int64($0.partition)) } + [.int(Int64(firstCheckInMilliseconds) * 1000)] + ids)
            for row in try connection.query("SELECT \(columns) FROM out_painting_task WHERE taskId IN (\(placeholders)) AND isDelete = 0",
                                            ids) {
                let task = record(row)
                found[task.taskId] = task
            }
        }
        return found
    }

    /// Applies what DashScope said about a task. Monotonic: a final row never changes, and a status
    /// only moves forward (PENDING → RUNNING → final), so a late or replayed answer is harmless.
    ///
    /// - Parameter nextCheckInMilliseconds: when to ask again (nil: leave the planned time as it is).
    /// - Returns: whether the task is final now.
    @discardableResult
    public static func applyObservation(_ connection: MySQLConnection, _ view: DashScopeTaskView,
                                        nextCheckInMilliseconds: Int?, unknownConfirm: Duration = UnknownRule.defaultConfirm) throws -> Bool {
        try applyObservations(connection, [Observation(view: view, nextCheckInMilliseconds: nextCheckInMilliseconds)],
                              unknownConfirm: unknownConfirm).contains(view.taskId)
    }

    /// UNKNOWN is not final on first sight: DashScope answers it for a task it does not know, which
    /// is also what an incident or a key of another account looks like. A task becomes UNKNOWN only
    /// after DashScope has said so for `unknownConfirm` without a word of anything else
    /// (`unknownSince` on the row), or once it is past DashScope's retention.
    public enum UnknownRule {
        public static let defaultConfirm: Duration = .seconds(600)
        /// DashScope keeps a task 24 h (DASHSCOPE.md §3.5): after that UNKNOWN is all it can say.
        public static let retention: Duration = .seconds(24 * 3600)
    }

    /// What DashScope said about one task, to store.
    public struct Observation: Sendable {
        public var view: DashScopeTaskView
        /// When to ask again (nil: leave the planned time as it is).
        public var nextCheckInMilliseconds: Int?
        /// A single-task query counts in `retryCount`; a sighting in a list page only stamps the row
        /// as seen (`lastCheckTime`).
        public var countsAsCheck: Bool

        public init(view: DashScopeTaskView, nextCheckInMilliseconds: Int? = nil, countsAsCheck: Bool = true) {
            self.view = view
            self.nextCheckInMilliseconds = nextCheckInMilliseconds
            self.countsAsCheck = countsAsCheck
        }
    }

    /// Observations per INSERT into the round's scratch table (shorter chunks are padded by
    /// repeating a row; `INSERT IGNORE` drops the repeats).
    static let observationChunk = 100

    /// Applies a round's observations with exactly the rules of `applyObservation`, in a few
    /// statements: they go to a per-connection temporary table, and one `UPDATE … JOIN` applies
    /// them — 1,000 answers cost about a dozen round trips instead of 1,000 (the Poller's W1 store
    /// time was ~95 µs per task).
    /// - Returns: the observed tasks that are final now (just become so, or already were).
    @discardableResult
    public static func applyObservations(_ connection: MySQLConnection, _ observations: [Observation],
                                         unknownConfirm: Duration = UnknownRule.defaultConfirm) throws -> Set<String> {
        guard !observations.isEmpty else { return [] }
        // The scratch table's taskId takes the host table's own collation (any the host uses), so
        // the join below never mixes two.
        let taskID = try ColumnCollation.taskID(connection)
        try connection.execute(unsafeSQL: """
            CREATE TEMPORARY TABLE IF NOT EXISTS outpainting_round_observation (
                taskId VARCHAR(128) CHARACTER SET \(taskID.characterSet) COLLATE \(taskID.collation) NOT NULL PRIMARY KEY,
                statusRank INT NOT NULL, taskStatus VARCHAR(32) NOT NULL,
                outputImageUrl VARCHAR(1024) NULL, errorCode VARCHAR(128) NULL, errorMessage VARCHAR(1024) NULL,
                submitTime VARCHAR(40) NULL, scheduledTime VARCHAR(40) NULL, endTime VARCHAR(40) NULL,
                requestId VARCHAR(64) NULL, nextCheckUs BIGINT NOT NULL, checkIncrement TINYINT NOT NULL
            )
            """)
        try connection.execute("DELETE FROM outpainting_round_observation")
        let row = "(" + Array(repeating: "?", count: 12).joined(separator: ",") + ")"
        let insert = "INSERT IGNORE INTO outpainting_round_observation VALUES "
            + Array(repeating: row, count: observationChunk).joined(separator: ",")
        var start = 0
        while start < observations.count {
            let chunk = observations[start..<min(start + observationChunk, observations.count)]
            start += observationChunk
            var values: [MySQLValue] = []
            values.reserveCapacity(observationChunk * 12)
            for i in 0..<observationChunk {
                let observation = chunk[chunk.startIndex + min(i, chunk.count - 1)]
                let view = observation.view, next = observation.nextCheckInMilliseconds
                values += [
                    .string(view.taskId), .int(Int64(view.status.rank)), .string(view.status.rawValue),
                    .optional(view.outputImageUrl.map { String($0.prefix(1024)) }),
                    .optional(view.code.map { String($0.prefix(128)) }),
                    .optional(view.message.map { String($0.prefix(1024)) }),
                    .optional(view.submitTime), .optional(view.scheduledTime), .optional(view.endTime),
                    .optional(view.requestId.map { String($0.prefix(64)) }),
                    .int(next.map { Int64(max($0, 0)) * 1000 } ?? -1),
                    .int(observation.countsAsCheck ? 1 : 0),
                ]
            }
            try connection.execute(insert, values)
        }
        // MySQL assigns left to right: the status reads the old unknownSince, then unknownSince is set.
        try connection.execute("""
            UPDATE out_painting_task t JOIN outpainting_round_observation o ON o.taskId = t.taskId SET
                t.taskStatus = CASE
                    WHEN o.taskStatus = 'UNKNOWN' AND t.createTime > NOW(3) - INTERVAL ? MICROSECOND
                         AND COALESCE(t.unknownSince, NOW(3)) > NOW(3) - INTERVAL ? MICROSECOND THEN t.taskStatus
                    WHEN \(rankOfStoredStatus.replacingOccurrences(of: "taskStatus", with: "t.taskStatus")) <= o.statusRank THEN o.taskStatus
                    ELSE t.taskStatus END,
                t.unknownSince = IF(o.taskStatus = 'UNKNOWN', COALESCE(t.unknownSince, NOW(3)), NULL),
                t.outputImageUrl = COALESCE(o.outputImageUrl, t.outputImageUrl),
                t.errorCode = COALESCE(o.errorCode, t.errorCode),
                t.errorMessage = COALESCE(o.errorMessage, t.errorMessage),
                t.submitTime = COALESCE(o.submitTime, t.submitTime),
                t.scheduledTime = COALESCE(o.scheduledTime, t.scheduledTime),
                t.endTime = COALESCE(o.endTime, t.endTime),
                t.requestId = COALESCE(o.requestId, t.requestId),
                t.retryCount = t.retryCount + o.checkIncrement,
                t.lastCheckTime = NOW(3),
                t.nextCheckTime = IF(o.nextCheckUs < 0, t.nextCheckTime, NOW(3) + INTERVAL o.nextCheckUs MICROSECOND)
            WHERE t.taskStatus NOT IN (\(finalList))
            """, [.int(UnknownRule.retention.microseconds), .int(unknownConfirm.microseconds)])
        return Set(try connection.query("""
            SELECT t.taskId FROM out_painting_task t JOIN outpainting_round_observation o ON o.taskId = t.taskId
            WHERE t.taskStatus IN (\(finalList))
            """).compactMap { $0["taskId"] })
    }

    // MARK: - Sweeper and owners

    /// Which of `ids` are our open tasks, with their stored status (ids of other applications of the
    /// account, and our final tasks, are absent).
    public static func openAmong(_ connection: MySQLConnection, _ ids: [String]) throws -> [String: TaskStatus] {
        var found: [String: TaskStatus] = [:]
        for chunk in padded(ids) {
            for row in try connection.query("""
                SELECT taskId, taskStatus FROM out_painting_task
                WHERE taskId IN (\(idPlaceholders)) AND isDelete = 0 AND taskStatus IN (\(openList))
                """, chunk.map(MySQLValue.string)) {
                if let id = row["taskId"], let status = row["taskStatus"].flatMap(TaskStatus.init(rawValue:)) { found[id] = status }
            }
        }
        return found
    }

    /// Our open tasks stored RUNNING or SUSPENDED (the previous sweeper's last view).
    public static func storedRunning(_ connection: MySQLConnection, limit: Int = 10_000) throws -> [String] {
        try connection.query("""
            SELECT taskId FROM out_painting_task WHERE taskStatus IN ('RUNNING', 'SUSPENDED') AND isDelete = 0 LIMIT ?
            """, [.int(Int64(limit))]).compactMap { $0["taskId"] }
    }

    /// Our PENDING tasks created before `epochMs`, oldest first; with `notSeenSinceEpochMs`, only
    /// those nobody saw (list or query) since then.
    public static func pendingCreatedBefore(_ connection: MySQLConnection, epochMs: Int64, notSeenSinceEpochMs: Int64? = nil,
                                            limit: Int) throws -> [String] {
        try connection.query("""
            SELECT taskId FROM out_painting_task
            WHERE taskStatus = 'PENDING' AND isDelete = 0 AND createTime < FROM_UNIXTIME(?)
              AND (? < 0 OR COALESCE(lastCheckTime, createTime) < FROM_UNIXTIME(?))
            ORDER BY createTime LIMIT ?
            """, [.double(Double(epochMs) / 1000), .int(notSeenSinceEpochMs ?? -1),
                  .double(Double(max(notSeenSinceEpochMs ?? 0, 0)) / 1000), .int(Int64(limit))]).compactMap { $0["taskId"] }
    }

    /// A followed task's row as its owner needs it when the sweep is trusted.
    public struct CheckState: Sendable, Equatable {
        public let status: TaskStatus
        public let retryCount: Int
        /// Since anyone last saw the task (a query or a list page), or since its creation.
        public let sinceSeenMilliseconds: Int64
    }

    /// The rows of `ids` (deleted or unknown ones are absent).
    public static func checkStates(_ connection: MySQLConnection, _ ids: [String]) throws -> [String: CheckState] {
        var found: [String: CheckState] = [:]
        for chunk in padded(ids) {
            for row in try connection.query("""
                SELECT taskId, taskStatus, retryCount,
                       TIMESTAMPDIFF(MICROSECOND, COALESCE(lastCheckTime, createTime), NOW(3)) AS sinceUs
                FROM out_painting_task WHERE taskId IN (\(idPlaceholders)) AND isDelete = 0
                """, chunk.map(MySQLValue.string)) {
                guard let id = row["taskId"], let status = row["taskStatus"].flatMap(TaskStatus.init(rawValue:)) else { continue }
                found[id] = CheckState(status: status, retryCount: row.int("retryCount") ?? 0,
                                       sinceSeenMilliseconds: max(row.int64("sinceUs") ?? 0, 0) / 1000)
            }
        }
        return found
    }

    /// `IN (…)` lists of `claimChunk` ids: shorter chunks repeat their last id, so one prepared
    /// statement serves every call.
    static let idPlaceholders = Array(repeating: "?", count: claimChunk).joined(separator: ",")

    static func padded(_ ids: [String]) -> [[String]] {
        stride(from: 0, to: ids.count, by: claimChunk).map { start in
            let chunk = ids[start..<min(start + claimChunk, ids.count)]
            return (0..<claimChunk).map { chunk[chunk.startIndex + min($0, chunk.count - 1)] }
        }
    }

    /// Ends a task the service gave up on (past its deadline) as UNKNOWN with a reason.
    public static func expire(_ connection: MySQLConnection, taskId: String, reason: String) throws {
        try connection.execute("""
            UPDATE out_painting_task
            SET taskStatus = 'UNKNOWN', errorMessage = ?, lastCheckTime = NOW(3), nextCheckTime = NULL
            WHERE taskId = ? AND taskStatus NOT IN (\(finalList))
            """, [.string(reason), .string(taskId)])
    }

    // MARK: - Mapping

    static func record(_ row: MySQLRow) -> TaskRecord {
        TaskRecord(
            taskId: row["taskId"] ?? "",
            pictureId: row.int64("pictureId") ?? 0,
            userId: row.int64("userId") ?? 0,
            status: row["taskStatus"].flatMap(TaskStatus.init(rawValue:)) ?? .pending,
            outputImageUrl: row["outputImageUrl"],
            errorCode: row["errorCode"],
            errorMessage: row["errorMessage"],
            requestId: row["requestId"],
            submitTime: row["submitTime"].map(trimMicroseconds),
            scheduledTime: row["scheduledTime"].map(trimMicroseconds),
            endTime: row["endTime"].map(trimMicroseconds),
            retryCount: row.int("retryCount") ?? 0,
            pollerPartition: row.int64("pollerPartition").map { Int32($0) },
            kafkaPartition: row.int64("kafkaPartition").map { Int32($0) },
            kafkaOffset: row.int64("kafkaOffset"),
            ageSeconds: row.int64("ageSeconds") ?? 0,
            createdAtEpochMilliseconds: row.int64("createdAtMs") ?? 0)
    }

    /// `%f` prints microseconds; DashScope's format has milliseconds.
    static func trimMicroseconds(_ text: String) -> String {
        text.count == 26 ? String(text.dropLast(3)) : text
    }
}
