/// The shared DashScope query bucket in `outpainting_query_quota`: one row per API key, updated
/// under `SELECT … FOR UPDATE` so that every Poller instance and every FcgiApp worker draw from the
/// same tokens.
public enum QuotaRepository {
    /// A grant: how many queries may be sent now, and when to ask again if none.
    public struct Grant: Sendable, Equatable {
        public let granted: Int
        public let retryInMilliseconds: Int64
        /// The bucket's refill rate now (queries/s): what the account allows us at the moment.
        public var rate: Double = 0
    }

    /// Identifies the account's row without storing the key: FNV-1a 64 of the key, hex.
    public static func quotaKey(apiKey: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in apiKey.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Takes up to `wanted` tokens in its own short transaction.
    public static func take(_ session: MySQLSession, key: String, wanted: Int, accountQPS: Double) throws -> Grant {
        try session.transaction { connection in
            guard let (state, blockedMs) = try lockedState(connection, key: key, accountQPS: accountQPS) else {
                return Grant(granted: 0, retryInMilliseconds: 100)
            }
            var next = state
            let granted = blockedMs > 0 ? 0 : next.take(wanted)
            try store(connection, key: key, next)
            let retry = blockedMs > 0 ? blockedMs : (granted == 0 ? next.millisecondsUntilNextToken : 0)
            return Grant(granted: granted, retryInMilliseconds: retry, rate: next.rate)
        }
    }

    /// Returns tokens a round took but did not use.
    public static func giveBack(_ session: MySQLSession, key: String, count: Int, accountQPS: Double) throws {
        guard count > 0 else { return }
        try session.transaction { connection in
            guard var (state, _) = try lockedState(connection, key: key, accountQPS: accountQPS) else { return }
            state.giveBack(count)
            try store(connection, key: key, state)
        }
    }

    /// Reports a 429: every instance pauses for `pauseMilliseconds` and continues at half the rate.
    public static func throttled(_ session: MySQLSession, key: String, pauseMilliseconds: Int64, accountQPS: Double) throws {
        try session.transaction { connection in
            guard var (state, _) = try lockedState(connection, key: key, accountQPS: accountQPS) else { return }
            state.throttle()
            try store(connection, key: key, state)
            try connection.execute("""
                UPDATE outpainting_query_quota
                SET blockedUntil = GREATEST(blockedUntil, NOW(6) + INTERVAL ? MICROSECOND), throttledCount = throttledCount + 1
                WHERE quotaKey = ?
                """, [.int(pauseMilliseconds * 1000), .string(key)])
        }
    }

    /// The row, refilled to now, locked until the transaction ends; created on first use with
    /// `accountQPS` (the programs' `DASHSCOPE_QUERY_QPS`). After that the row's `accountQPS` is
    /// authoritative: an operator changes the quota for every instance at once with one UPDATE.
    private static func lockedState(_ connection: MySQLConnection, key: String,
                                    accountQPS: Double) throws -> (SharedQuota, blockedMs: Int64)? {
        let select = """
            SELECT accountQPS, tokens, ratePerSecond, configuredRate, burst, ceilingRate, ceilingQuietSeconds,
                   GREATEST(TIMESTAMPDIFF(MICROSECOND, updatedAt, NOW(6)), 0) AS elapsedUs,
                   GREATEST(TIMESTAMPDIFF(MICROSECOND, NOW(6), blockedUntil), 0) AS blockedUs
            FROM outpainting_query_quota WHERE quotaKey = ? FOR UPDATE
            """
        var row = try connection.query(select, [.string(key)]).first
        if row == nil {
            // First use: create the row. (Not INSERT IGNORE on every call: its shared lock on an
            // existing row, upgraded by FOR UPDATE, deadlocks concurrent takers.)
            let initial = SharedQuota(accountQPS: accountQPS)
            try connection.execute("""
                INSERT IGNORE INTO outpainting_query_quota
                    (quotaKey, accountQPS, tokens, ratePerSecond, configuredRate, burst, updatedAt, blockedUntil)
                VALUES (?, ?, ?, ?, ?, ?, NOW(6), NOW(6))
                """, [.string(key), .double(accountQPS), .double(initial.tokens), .double(initial.rate),
                      .double(initial.configuredRate), .double(initial.burst)])
            row = try connection.query(select, [.string(key)]).first
        }
        guard let row else { return nil }
        var state = SharedQuota(tokens: Double(row["tokens"] ?? "0") ?? 0, rate: Double(row["ratePerSecond"] ?? "1") ?? 1,
                                configuredRate: Double(row["configuredRate"] ?? "1") ?? 1, burst: Double(row["burst"] ?? "1") ?? 1,
                                ceiling: row["ceilingRate"].flatMap(Double.init),
                                quietSeconds: row["ceilingQuietSeconds"].flatMap(Double.init) ?? 0)
        let fresh = SharedQuota(accountQPS: max(Double(row["accountQPS"] ?? "") ?? accountQPS, 1))
        if state.configuredRate != fresh.configuredRate || state.burst != fresh.burst {
            state.configuredRate = fresh.configuredRate
            state.burst = fresh.burst
            state.rate = min(state.rate, fresh.configuredRate)
            state.tokens = min(state.tokens, fresh.burst)
            // A new quota is a new account situation: what 429s taught about the old one is dropped.
            state.ceiling = nil
        }
        let elapsed = Double(row.int64("elapsedUs") ?? 0) / 1_000_000
        return (state.advanced(by: elapsed), (row.int64("blockedUs") ?? 0) / 1000)
    }

    private static func store(_ connection: MySQLConnection, key: String, _ state: SharedQuota) throws {
        try connection.execute("""
            UPDATE outpainting_query_quota
            SET tokens = ?, ratePerSecond = ?, configuredRate = ?, burst = ?, ceilingRate = ?, ceilingQuietSeconds = ?,
                updatedAt = NOW(6)
            WHERE quotaKey = ?
            """, [.double(state.tokens), .double(state.rate), .double(state.configuredRate), .double(state.burst),
                  state.ceiling.map(MySQLValue.double) ?? .null, .double(state.quietSeconds), .string(key)])
    }
}
