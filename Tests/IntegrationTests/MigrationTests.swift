import Testing
@testable import Common

extension Integration {
@Suite("migrations take the original table forward")
struct MigrationTests {
    @Test("an original out_painting_task keeps its rows and gains the new columns; running twice changes nothing")
    func originalTableForward() throws {
        let schema = "outpaint_it_\(Stack.freshID())"
        try Stack.withDatabase { try $0.execute(unsafeSQL: "CREATE DATABASE \(schema)") }
        defer { _ = try? Stack.withDatabase { try $0.execute(unsafeSQL: "DROP DATABASE \(schema)") } }
        var config = Stack.mysql
        config.database = schema
        let db = try MySQLConnection(config)
        // The Java design's table, as it exists in a deployment that ran it.
        try db.execute(unsafeSQL: """
            CREATE TABLE out_painting_task (
              id BIGINT PRIMARY KEY, taskId VARCHAR(128) NOT NULL UNIQUE, pictureId BIGINT NOT NULL,
              userId BIGINT NOT NULL, taskStatus VARCHAR(32) NOT NULL, outputImageUrl VARCHAR(1024) NULL,
              errorMessage VARCHAR(1024) NULL, retryCount INT NOT NULL DEFAULT 0,
              createTime DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
              updateTime DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
              isDelete TINYINT NOT NULL DEFAULT 0)
            """)
        try db.execute("INSERT INTO out_painting_task (id, taskId, pictureId, userId, taskStatus, retryCount) VALUES (1, 'old-task', 5, 6, 'RUNNING', 4)")

        let migrator = SchemaMigrator(directory: "sql/migrations", logger: Stack.logger)
        let first = try migrator.migrate(db)
        // Every file of sql/migrations, in order.
        #expect(first == (try migrator.migrations()).map(\.name))
        #expect(try migrator.migrate(db).isEmpty)
        // Each file is also safe to run again on its own.
        for migration in try migrator.migrations() {
            for statement in SchemaMigrator.statements(migration.sql) { try db.execute(unsafeSQL: statement) }
        }
        let columns = try db.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'out_painting_task'",
                                   [.string(schema)]).compactMap { $0["COLUMN_NAME"] }
        for name in ["taskId", "retryCount", "errorCode", "nextCheckTime", "pollerPartition", "kafkaOffset"] {
            #expect(columns.contains(name), "\(name)")
        }
        let old = try #require(try TaskRepository.find(db, taskId: "old-task"))
        #expect(old.status == .running && old.retryCount == 4 && old.pollerPartition == nil)

        // The monotonic update: a late RUNNING never overwrites a final state.
        try TaskRepository.applyObservation(db, DashScopeTaskView(taskId: "old-task", status: .succeeded, outputImageUrl: "u"),
                                            nextCheckInMilliseconds: nil)
        let replayed = try TaskRepository.applyObservation(db, DashScopeTaskView(taskId: "old-task", status: .running),
                                                           nextCheckInMilliseconds: 1000)
        #expect(!replayed)
        #expect(try TaskRepository.find(db, taskId: "old-task")?.status == .succeeded)
    }
}
}
