/// The sweeper lease and its freshness in `outpainting_sweeper`: one row per DashScope account
/// (the quota key), so one instance sweeps the account however many Poller instances run.
public enum SweeperRepository {
    /// Takes or renews the lease for `holder` until `lease` from now: true when `holder` holds it
    /// (it did already, or the previous holder's lease ran out). `sweptIntervalMs`, when given, also
    /// records a successful RUNNING sweep at that interval; `pendingPassMs` the last pass's length.
    public static func holdLease(_ connection: MySQLConnection, key: String, holder: String, lease: Duration,
                                 sweptIntervalMs: Int64? = nil, pendingPassMs: Int64? = nil) throws -> Bool {
        try connection.execute("INSERT IGNORE INTO outpainting_sweeper (quotaKey, holder, leaseUntil) VALUES (?, '', NOW(6))",
                               [.string(key)])
        // MySQL assigns left to right: the counters read `holder` before it is overwritten.
        return try connection.execute("""
            UPDATE outpainting_sweeper SET
                handovers = handovers + IF(holder = ?, 0, 1),
                acquiredAt = IF(holder = ?, acquiredAt, NOW(6)),
                holder = ?,
                leaseUntil = NOW(6) + INTERVAL ? MICROSECOND,
                lastSweepAt = IF(? >= 0, NOW(6), lastSweepAt),
                sweepIntervalMs = IF(? >= 0, ?, sweepIntervalMs),
                lastPendingPassMs = IF(? >= 0, ?, lastPendingPassMs)
            WHERE quotaKey = ? AND (holder = ? OR leaseUntil < NOW(6))
            """, [.string(holder), .string(holder), .string(holder), .int(lease.microseconds),
                  .int(sweptIntervalMs ?? -1), .int(sweptIntervalMs ?? -1), .int(sweptIntervalMs ?? 0),
                  .int(pendingPassMs ?? -1), .int(pendingPassMs ?? 0),
                  .string(key), .string(holder)]).affectedRows == 1
    }

    /// Gives the lease up at once (graceful stop), so another instance takes over without waiting
    /// for it to run out.
    public static func releaseLease(_ connection: MySQLConnection, key: String, holder: String) throws {
        try connection.execute("""
            UPDATE outpainting_sweeper SET leaseUntil = NOW(6) - INTERVAL 1 SECOND WHERE quotaKey = ? AND holder = ?
            """, [.string(key), .string(holder)])
    }

    /// The sweep's freshness as the database's clock sees it.
    public static func health(_ connection: MySQLConnection, key: String) throws -> SweepHealth {
        guard let row = try connection.query("""
            SELECT TIMESTAMPDIFF(MICROSECOND, lastSweepAt, NOW(6)) AS sinceUs, sweepIntervalMs, lastPendingPassMs
            FROM outpainting_sweeper WHERE quotaKey = ?
            """, [.string(key)]).first else { return .none }
        return SweepHealth(sinceLastSweepMs: row.int64("sinceUs").map { max($0, 0) / 1000 },
                           intervalMs: row.int64("sweepIntervalMs") ?? 0, lastPendingPassMs: row.int64("lastPendingPassMs") ?? 0)
    }

    /// Who holds the lease and how often it changed hands (admin CLI, tests).
    public static func lease(_ connection: MySQLConnection, key: String) throws -> (holder: String, held: Bool, handovers: Int64)? {
        try connection.query("""
            SELECT holder, leaseUntil >= NOW(6) AS held, handovers FROM outpainting_sweeper WHERE quotaKey = ?
            """, [.string(key)]).first.map { ($0["holder"] ?? "", $0.int64("held") == 1, $0.int64("handovers") ?? 0) }
    }
}
