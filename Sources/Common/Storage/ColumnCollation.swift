import Synchronization

/// The character set and collation of `out_painting_task.taskId`, as the host's table has them.
///
/// The host's tables use whatever their server had when they were created (MariaDB on Debian:
/// `utf8mb4_general_ci`; MySQL 8: `utf8mb4_0900_ai_ci`), so no statement may assume one: a
/// scratch table for a round's observations is created with the column's own collation, and a
/// comparison with another table's column names it explicitly. Read from information_schema once
/// per database and process.
public enum ColumnCollation {
    public struct Collation: Sendable, Equatable {
        public let characterSet: String
        public let collation: String
    }

    private static let cache = Mutex<[String: Collation]>([:])

    /// `out_painting_task.taskId`'s collation in the connection's database.
    public static func taskID(_ connection: MySQLConnection) throws -> Collation {
        let database = try connection.query("SELECT DATABASE() AS db").first?["db"] ?? ""
        if let known = cache.withLock({ $0[database] }) { return known }
        guard let row = try connection.query("""
            SELECT CHARACTER_SET_NAME AS cs, COLLATION_NAME AS co FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'out_painting_task' AND COLUMN_NAME = 'taskId'
            """).first, let characterSet = row["cs"], let collation = row["co"],
              [characterSet, collation].allSatisfy(isPlainName) else {
            throw MySQLError(code: .query, errno: 0, sqlState: "HY000", message: "out_painting_task.taskId has no readable collation")
        }
        let found = Collation(characterSet: characterSet, collation: collation)
        cache.withLock { $0[database] = found }
        return found
    }

    /// A collation or character set name from information_schema is spliced into SQL (it cannot be
    /// bound): only plain names pass.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}
