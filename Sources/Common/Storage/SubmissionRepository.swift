/// Submissions to DashScope, recorded before they are made (each one is paid).
///
/// create_task first stores the intent: a row of `out_painting_task` with status `SUBMITTING` and
/// a placeholder taskId (`submitting-<uuid>`), so a row that cannot be written is refused before
/// DashScope is asked. The row becomes the task when DashScope's answer arrives (its real id,
/// PENDING). When the answer is lost — a timeout, a reset, a 5xx after sending, a malformed
/// answer, the process killed — the row stays `SUBMITTING` with `submittedAt` (our clock, when it
/// was sent), and a Poller settles it later by finding the task in DashScope's list by submit time
/// (`SubmissionSettlement`). While a row is unsettled, the same user, picture and parameters are
/// never submitted again; once settled, a retry gets the task that exists.
///
/// Placeholder rows are neither open (`PENDING`/`RUNNING`/`SUSPENDED`) nor final for the Pollers:
/// nobody follows or queries them.
public enum SubmissionRepository {
    public static let status = "SUBMITTING"
    public static let placeholderPrefix = "submitting-"
    /// `submissionOutcome` of a task whose create answer was lost and later found.
    public static let unclearOutcome = "unclear"

    /// Stores the intent; throws (nothing is sent) when the row cannot be written.
    public static func recordIntent(_ connection: MySQLConnection, placeholder: String, pictureId: Int64, userId: Int64,
                                    parameters: OutPaintingParameters) throws {
        try connection.execute("""
            INSERT INTO out_painting_task (taskId, pictureId, userId, taskStatus, requestParameters, retryCount)
            VALUES (?, ?, ?, ?, ?, 0)
            """, [.string(placeholder), .int(pictureId), .int(userId), .string(status), .string(parameters.hostJSON.serialized)])
    }

    /// The send time, written just before the create goes out (settlement matches it).
    /// - Returns: false when the intent is gone (settlement dropped it as never sent): do not send.
    public static func markSending(_ connection: MySQLConnection, placeholder: String) throws -> Bool {
        try connection.execute("UPDATE out_painting_task SET submittedAt = NOW(3) WHERE taskId = ? AND taskStatus = ?",
                               [.string(placeholder), .string(status)]).affectedRows == 1
    }

    /// DashScope accepted: the intent becomes the task.
    public static func complete(_ connection: MySQLConnection, placeholder: String, taskId: String, taskStatus: TaskStatus,
                                requestId: String) throws {
        try connection.execute("""
            UPDATE out_painting_task SET taskId = ?, taskStatus = ?, requestId = ?, errorCode = NULL WHERE taskId = ? AND taskStatus = ?
            """, [.string(taskId), .string(taskStatus.rawValue), .string(requestId), .string(placeholder), .string(status)])
    }

    /// DashScope certainly did not create a task (a refusal it answered).
    public static func discard(_ connection: MySQLConnection, placeholder: String) throws {
        try connection.execute("DELETE FROM out_painting_task WHERE taskId = ? AND taskStatus = ?", [.string(placeholder), .string(status)])
    }

    /// Drops an intent that was never sent (its process stopped first); one being sent right now
    /// (`submittedAt` just written) is kept.
    public static func discardUnsent(_ connection: MySQLConnection, placeholder: String) throws {
        try connection.execute("DELETE FROM out_painting_task WHERE taskId = ? AND taskStatus = ? AND submittedAt IS NULL",
                               [.string(placeholder), .string(status)])
    }

    /// The answer was lost: the row waits for settlement.
    public static func markUnclear(_ connection: MySQLConnection, placeholder: String, reason: String) throws {
        try connection.execute("""
            UPDATE out_painting_task SET submissionOutcome = ?, errorCode = 'SubmissionUnclear', errorMessage = ?
            WHERE taskId = ? AND taskStatus = ?
            """, [.string(unclearOutcome), .string(String(reason.prefix(1024))), .string(placeholder), .string(status)])
    }

    /// Whether an earlier submission of the same user, picture and parameters is still unsettled.
    public static func unsettled(_ connection: MySQLConnection, userId: Int64, pictureId: Int64,
                                 parameters: OutPaintingParameters) throws -> Bool {
        try connection.query("""
            SELECT COUNT(*) AS n FROM out_painting_task
            WHERE userId = ? AND pictureId = ? AND requestParameters = ? AND taskStatus = ? AND isDelete = 0
            """, [.int(userId), .int(pictureId), .string(parameters.hostJSON.serialized), .string(status)]).first?.int("n") ?? 0 > 0
    }

    /// A user's submissions now (intents count; a refused create is deleted, so it does not).
    public static func counts(_ connection: MySQLConnection, userId: Int64) throws -> UserCreateCounts {
        let row = try connection.query("""
            SELECT COALESCE(SUM(taskStatus = ?), 0) AS inProgress,
                   COALESCE(SUM(createTime >= NOW() - INTERVAL 1 MINUTE), 0) AS lastMinute,
                   COUNT(*) AS lastDay
            FROM out_painting_task WHERE userId = ? AND createTime >= NOW() - INTERVAL 1 DAY AND isDelete = 0
            """, [.string(status), .int(userId)]).first
        return UserCreateCounts(inProgress: row?.int("inProgress") ?? 0, lastMinute: row?.int("lastMinute") ?? 0,
                                lastDay: row?.int("lastDay") ?? 0)
    }

    // MARK: - Settlement (Poller)

    /// A submission whose answer never arrived.
    public struct Unsettled: Sendable, Equatable {
        public let placeholder: String
        /// When it was sent (epoch ms, the database's clock); nil: never sent.
        public let submittedAtEpochMs: Int64?
        public let ageSeconds: Int64
    }

    /// Intents whose answer would have arrived by now: sent more than `sentSeconds` ago (the create
    /// timeout and a margin), or never sent and stored more than `unsentSeconds` ago (the queue
    /// budget and a margin), oldest first.
    public static func unsettledIntents(_ connection: MySQLConnection, sentSeconds: Int, unsentSeconds: Int, limit: Int) throws -> [Unsettled] {
        try connection.query("""
            SELECT taskId, CAST(UNIX_TIMESTAMP(submittedAt) * 1000 AS SIGNED) AS sentMs, TIMESTAMPDIFF(SECOND, createTime, NOW()) AS age
            FROM out_painting_task
            WHERE taskStatus = ? AND isDelete = 0
              AND ((submittedAt IS NOT NULL AND submittedAt < NOW(3) - INTERVAL ? SECOND)
                OR (submittedAt IS NULL AND createTime < NOW() - INTERVAL ? SECOND))
            ORDER BY createTime LIMIT ?
            """, [.string(status), .int(Int64(sentSeconds)), .int(Int64(unsentSeconds)), .int(Int64(limit))]).compactMap { row in
            guard let id = row["taskId"] else { return nil }
            return Unsettled(placeholder: id, submittedAtEpochMs: row.int64("sentMs"), ageSeconds: row.int64("age") ?? 0)
        }
    }

    /// Our tasks sent within a window (epoch ms, our clock), with their send times: what the list
    /// shows of them tells the offset between DashScope's clock and ours.
    public static func sentBetween(_ connection: MySQLConnection, fromEpochMs: Int64, toEpochMs: Int64) throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for row in try connection.query("""
            SELECT taskId, CAST(UNIX_TIMESTAMP(submittedAt) * 1000 AS SIGNED) AS sentMs FROM out_painting_task
            WHERE submittedAt >= FROM_UNIXTIME(?) AND submittedAt <= FROM_UNIXTIME(?) AND taskStatus <> ?
            """, [.double(Double(fromEpochMs) / 1000), .double(Double(toEpochMs) / 1000), .string(status)]) {
            if let id = row["taskId"], let sent = row.int64("sentMs") { out[id] = sent }
        }
        return out
    }

    /// Which of `ids` have a row (any status): those are ours, never the lost task.
    public static func known(_ connection: MySQLConnection, _ ids: [String]) throws -> Set<String> {
        var found = Set<String>()
        for chunk in TaskRepository.padded(ids) {
            for row in try connection.query("SELECT taskId FROM out_painting_task WHERE taskId IN (\(TaskRepository.idPlaceholders))",
                                            chunk.map(MySQLValue.string)) {
                if let id = row["taskId"] { found.insert(id) }
            }
        }
        return found
    }

    /// The lost answer is found: the intent becomes that task (unclaimed, so a reconciler adopts
    /// and follows it), remembered as `unclear` so a retry gets it.
    public static func settle(_ connection: MySQLConnection, placeholder: String, taskId: String, taskStatus: TaskStatus) throws -> Bool {
        try connection.execute("""
            UPDATE out_painting_task SET taskId = ?, taskStatus = ?, submissionOutcome = ?, errorCode = NULL, errorMessage = NULL
            WHERE taskId = ? AND taskStatus = ?
            """, [.string(taskId), .string(taskStatus.rawValue), .string(unclearOutcome), .string(placeholder), .string(status)])
            .affectedRows == 1
    }

    /// DashScope has no task for it: nothing was created (and nothing is paid). Kept as FAILED
    /// with the reason, for the operator; the user may submit again.
    public static func markNotAccepted(_ connection: MySQLConnection, placeholder: String, reason: String) throws {
        try connection.execute("""
            UPDATE out_painting_task SET taskStatus = 'FAILED', errorCode = 'SubmissionNotAccepted', errorMessage = ?
            WHERE taskId = ? AND taskStatus = ?
            """, [.string(reason), .string(placeholder), .string(status)])
    }

    /// Several tasks could be it (another application of the account submitted at the same
    /// moment): left unsettled — so never paid twice — and said so, for an operator.
    public static func markAmbiguous(_ connection: MySQLConnection, placeholder: String, candidates: [String]) throws {
        try connection.execute("""
            UPDATE out_painting_task SET errorCode = 'SubmissionAmbiguous', errorMessage = ? WHERE taskId = ? AND taskStatus = ?
            """, [.string(String("candidates: \(candidates.joined(separator: ", "))".prefix(1024))), .string(placeholder), .string(status)])
    }
}
