/// The original design's table as it exists in the wild: `expend_image_task` with snake_case
/// columns (HOST-CONTRACT.md), not the design document's `out_painting_task`. `migrate` notices it
/// and, when asked, copies its open tasks into `out_painting_task` so they are followed (the
/// Pollers' reconciler adopts rows nobody claimed). The original table is only read: never
/// altered, never dropped.
public enum OriginalTableImport {
    public static let table = "expend_image_task"

    /// What the original table holds, or nil when this schema has none.
    public struct Found: Sendable, Equatable {
        /// Its tasks not yet final (PENDING / RUNNING / SUSPENDED) and not deleted.
        public let openTasks: Int
        /// Of them, those already in `out_painting_task`.
        public let alreadyImported: Int
    }

    static let openStatuses = "'PENDING', 'RUNNING', 'SUSPENDED'"

    public static func inspect(_ connection: MySQLConnection) throws -> Found? {
        guard try connection.query("""
            SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
            """, [.string(table)]).first?.int("n") == 1 else { return nil }
        // The two tables may well differ in collation: compare in out_painting_task's.
        let taskID = try ColumnCollation.taskID(connection)
        let row = try connection.query("""
            SELECT COUNT(*) AS open, COALESCE(SUM(t.taskId IS NOT NULL), 0) AS imported
            FROM expend_image_task e LEFT JOIN out_painting_task t
              ON t.taskId = CONVERT(e.task_id USING \(taskID.characterSet)) COLLATE \(taskID.collation)
            WHERE e.task_status IN (\(openStatuses)) AND e.is_delete = 0
            """).first
        return Found(openTasks: row?.int("open") ?? 0, alreadyImported: row?.int("imported") ?? 0)
    }

    /// Copies the open tasks that are not in `out_painting_task` yet; returns how many. Safe to run
    /// again (a task already there is skipped).
    @discardableResult
    public static func importOpenTasks(_ connection: MySQLConnection) throws -> Int {
        Int(try connection.execute("""
            INSERT IGNORE INTO out_painting_task (taskId, pictureId, userId, taskStatus, outputImageUrl, retryCount, createTime, isDelete)
            SELECT e.task_id, e.picture_id, e.user_id, e.task_status, e.output_image_url, 0, e.create_time, 0
            FROM expend_image_task e
            WHERE e.task_status IN (\(openStatuses)) AND e.is_delete = 0
            """).affectedRows)
    }
}
