/// The account's shared submission schedule (`outpainting_submission_pace`): each create_task
/// reserves the next free send time, so submissions from every worker and instance go out one
/// spacing apart — in arrival order, and never faster than DashScope's submission quota.
public enum SubmissionPaceRepository {
    /// DashScope counts submissions in any one-second window, so two sends must not arrive closer
    /// than a second apart even when the earlier one was delayed on its way: 5 % headroom.
    static let headroom = 1.05

    /// Reserves the next send time unless it is more than `budget` away. The row's
    /// `submissionsPerSecond` (created from `submissionsPerSecond` on first use, then
    /// authoritative) sets the spacing; 0 there means no pacing.
    /// - Returns: how long to wait before sending, or nil when the queue is longer than `budget`
    ///   (nothing reserved: a refused request does not delay the ones after it).
    public static func reserve(_ session: MySQLSession, key: String, submissionsPerSecond: Double,
                               budget: Duration) throws -> Duration? {
        try session.transaction { connection in
            let select = """
                SELECT submissionsPerSecond, GREATEST(TIMESTAMPDIFF(MICROSECOND, NOW(6), nextSlotAt), 0) AS waitUs
                FROM outpainting_submission_pace WHERE paceKey = ? FOR UPDATE
                """
            var row = try connection.query(select, [.string(key)]).first
            if row == nil {
                try connection.execute("""
                    INSERT IGNORE INTO outpainting_submission_pace (paceKey, submissionsPerSecond, nextSlotAt) VALUES (?, ?, NOW(6))
                    """, [.string(key), .double(max(submissionsPerSecond, 0))])
                row = try connection.query(select, [.string(key)]).first
            }
            let rate = Double(row?["submissionsPerSecond"] ?? "") ?? submissionsPerSecond
            guard rate > 0 else { return .zero }
            let wait = Duration.microseconds(row?.int64("waitUs") ?? 0)
            guard wait <= budget else { return nil }
            try connection.execute("""
                UPDATE outpainting_submission_pace SET nextSlotAt = GREATEST(nextSlotAt, NOW(6)) + INTERVAL ? MICROSECOND
                WHERE paceKey = ?
                """, [.int(Int64(headroom * 1_000_000 / rate)), .string(key)])
            return wait
        }
    }
}
