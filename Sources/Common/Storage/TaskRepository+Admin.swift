/// Statements behind the `outpainting` admin CLI: looking at tasks and making them checked again.
extension TaskRepository {
    /// A task as an operator sees it: the row plus its check schedule.
    public struct AdminView: Sendable {
        public let record: TaskRecord
        public let createTime: String?
        public let lastCheckTime: String?
        public let nextCheckTime: String?
    }

    static let adminColumns = """
        \(columns),
        DATE_FORMAT(createTime, '%Y-%m-%d %H:%i:%s') AS createTimeText,
        DATE_FORMAT(lastCheckTime, '%Y-%m-%d %H:%i:%s.%f') AS lastCheckTimeText,
        DATE_FORMAT(nextCheckTime, '%Y-%m-%d %H:%i:%s.%f') AS nextCheckTimeText
        """

    public static func adminView(_ connection: MySQLConnection, taskId: String) throws -> AdminView? {
        try connection.query("SELECT \(adminColumns) FROM out_painting_task WHERE taskId = ? AND isDelete = 0",
                             [.string(taskId)]).first.map(adminView)
    }

    /// Tasks by status (nil = any not final) created more than `olderThanSeconds` ago, oldest first.
    public static func search(_ connection: MySQLConnection, status: TaskStatus?, olderThanSeconds: Int,
                              limit: Int) throws -> [AdminView] {
        let statusFilter = status == nil ? "taskStatus NOT IN (\(finalList))" : "taskStatus = ?"
        var values: [MySQLValue] = status.map { [.string($0.rawValue)] } ?? []
        values += [.int(olderThanSeconds), .int(limit)]
        return try connection.query("""
            SELECT \(adminColumns) FROM out_painting_task
            WHERE \(statusFilter) AND isDelete = 0 AND createTime < NOW() - INTERVAL ? SECOND
            ORDER BY createTime LIMIT ?
            """, values).map(adminView)
    }

    /// Open tasks nobody has checked for `seconds` (their follower is gone or stuck).
    public static func stuck(_ connection: MySQLConnection, notCheckedForSeconds seconds: Int, limit: Int) throws -> [AdminView] {
        try connection.query("""
            SELECT \(adminColumns) FROM out_painting_task
            WHERE taskStatus NOT IN (\(finalList)) AND isDelete = 0
              AND COALESCE(lastCheckTime, createTime) < NOW(3) - INTERVAL ? SECOND
            ORDER BY createTime LIMIT ?
            """, [.int(seconds), .int(limit)]).map(adminView)
    }

    /// Makes an open task due now and unowned: the Kafka message sent with it (or, failing that,
    /// a reconciler) hands it to a Poller that checks it at once. False when the task is final or unknown.
    public static func requeue(_ connection: MySQLConnection, taskId: String) throws -> Bool {
        try connection.execute("""
            UPDATE out_painting_task SET nextCheckTime = NOW(3), pollerPartition = NULL, requeueTime = NULL
            WHERE taskId = ? AND taskStatus NOT IN (\(finalList)) AND isDelete = 0
            """, [.string(taskId)]).affectedRows == 1
    }

    static func adminView(_ row: MySQLRow) -> AdminView {
        AdminView(record: record(row), createTime: row["createTimeText"],
                  lastCheckTime: row["lastCheckTimeText"].map(trimMicroseconds),
                  nextCheckTime: row["nextCheckTimeText"].map(trimMicroseconds))
    }
}
