/// The account's shared submission schedule (`outpainting_submission_pace`): each create_task
/// reserves the next free send time, so submissions from every worker and instance go out one
/// spacing apart — in arrival order, and never faster than DashScope's submission quota.
public enum SubmissionPaceRepository {
    /// Reserves the next send time unless it is more than `budget` away.
    /// - Returns: how long to wait before sending, or nil when the queue is longer than `budget`
    ///   (nothing reserved: a refused request does not delay the ones after it).
    public static func reserve(_ session: MySQLSession, key: String, spacing: Duration, budget: Duration) throws -> Duration? {
        try session.transaction { connection in
            let select = """
                SELECT GREATEST(TIMESTAMPDIFF(MICROSECOND, NOW(6), nextSlotAt), 0) AS waitUs
                FROM outpainting_submission_pace WHERE paceKey = ? FOR UPDATE
                """
            var row = try connection.query(select, [.string(key)]).first
            if row == nil {
                try connection.execute("INSERT IGNORE INTO outpainting_submission_pace (paceKey, nextSlotAt) VALUES (?, NOW(6))",
                                       [.string(key)])
                row = try connection.query(select, [.string(key)]).first
            }
            let wait = Duration.microseconds(row?.int64("waitUs") ?? 0)
            guard wait <= budget else { return nil }
            try connection.execute("""
                UPDATE outpainting_submission_pace SET nextSlotAt = GREATEST(nextSlotAt, NOW(6)) + INTERVAL ? MICROSECOND
                WHERE paceKey = ?
                """, [.int(spacing.microseconds), .string(key)])
            return wait
        }
    }
}
