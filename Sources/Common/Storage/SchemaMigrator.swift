import Foundation
import Logging

/// Applies `sql/migrations/V<n>__<name>.sql` in version order, each once, recording what ran in
/// `outpainting_schema_migrations`. Every migration is also written to be safe to run again.
public struct SchemaMigrator {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    public let directory: String
    public let logger: Logger

    public init(directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    public func migrations() throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        return try files.compactMap { file -> Migration? in
            guard file.hasPrefix("V"), file.hasSuffix(".sql"), let sep = file.range(of: "__"),
                  let version = Int(file[file.index(after: file.startIndex)..<sep.lowerBound]) else { return nil }
            let sql = try String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)
            return Migration(version: version, name: String(file.dropLast(4)), sql: sql)
        }.sorted { $0.version < $1.version }
    }

    /// Splits a file into statements: a statement ends at a line ending with `;`; `--` lines are comments.
    public static func statements(_ sql: String) -> [String] {
        var out: [String] = []
        var current: [Substring] = []
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("--") || (trimmed.isEmpty && current.isEmpty) { continue }
            current.append(line)
            if trimmed.hasSuffix(";") {
                out.append(current.joined(separator: "\n"))
                current = []
            }
        }
        let rest = current.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { out.append(rest) }
        return out
    }

    /// Applies what is missing; returns the names applied (empty when up to date).
    @discardableResult
    public func migrate(_ connection: MySQLConnection) throws -> [String] {
        try connection.execute(unsafeSQL: """
            CREATE TABLE IF NOT EXISTS outpainting_schema_migrations (
                version INT PRIMARY KEY, name VARCHAR(255) NOT NULL,
                appliedAt DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))
            """)
        let applied = Set(try connection.query("SELECT version FROM outpainting_schema_migrations").compactMap { $0.int("version") })
        var done: [String] = []
        for migration in try migrations() where !applied.contains(migration.version) {
            logger.info("applying migration", metadata: ["migration": "\(migration.name)"])
            for statement in Self.statements(migration.sql) {
                try connection.execute(unsafeSQL: statement)
            }
            try connection.execute("INSERT INTO outpainting_schema_migrations (version, name) VALUES (?, ?)",
                                   [.int(migration.version), .string(migration.name)])
            done.append(migration.name)
        }
        return done
    }
}
