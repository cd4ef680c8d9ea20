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
        let stillFinal = try TaskRepository.applyObservation(db, DashScopeTaskView(taskId: "old-task", status: .running),
                                                             nextCheckInMilliseconds: 1000)
        #expect(stillFinal)
        #expect(try TaskRepository.find(db, taskId: "old-task")?.status == .succeeded)
    }

    /// A scratch schema whose default collation is neither the table's nor the server's.
    static func scratch(_ body: (MySQLConnection) throws -> Void) throws {
        let schema = "outpaint_it_\(Stack.freshID())"
        try Stack.withDatabase { try $0.execute(unsafeSQL: "CREATE DATABASE \(schema) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci") }
        defer { _ = try? Stack.withDatabase { try $0.execute(unsafeSQL: "DROP DATABASE \(schema)") } }
        var config = Stack.mysql
        config.database = schema
        try body(try MySQLConnection(config))
    }

    @Test("the host's table in utf8mb4_general_ci (MariaDB's Debian default): migrated, and a round's observations are stored")
    func anyCollation() throws {
        try Self.scratch { db in
            try db.execute(unsafeSQL: """
                CREATE TABLE out_painting_task (
                  id BIGINT AUTO_INCREMENT PRIMARY KEY, taskId VARCHAR(128) NOT NULL UNIQUE, pictureId BIGINT NOT NULL,
                  userId BIGINT NOT NULL, taskStatus VARCHAR(32) NOT NULL, outputImageUrl VARCHAR(1024) NULL,
                  errorMessage VARCHAR(1024) NULL, retryCount INT NOT NULL DEFAULT 0,
                  createTime DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
                  updateTime DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
                  isDelete TINYINT NOT NULL DEFAULT 0) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci
                """)
            try SchemaMigrator(directory: "sql/migrations", logger: Stack.logger).migrate(db)
            try db.execute("INSERT INTO out_painting_task (taskId, pictureId, userId, taskStatus) VALUES ('t-1', 1, 2, 'RUNNING'), ('t-2', 1, 2, 'PENDING')")
            // The Poller's store of a round (a scratch table joined with the host's): no "Illegal mix of collations".
            let final = try TaskRepository.applyObservations(db, [
                TaskRepository.Observation(view: DashScopeTaskView(taskId: "t-1", status: .succeeded, outputImageUrl: "https://r/1.png")),
                TaskRepository.Observation(view: DashScopeTaskView(taskId: "t-2", status: .running), countsAsCheck: false),
            ])
            #expect(final == ["t-1"])
            #expect(try TaskRepository.find(db, taskId: "t-1")?.status == .succeeded)
            #expect(try TaskRepository.find(db, taskId: "t-2")?.status == .running)
            #expect(try TaskRepository.openAmong(db, ["t-1", "t-2", "x"]) == ["t-2": .running])
        }
    }

    @Test("the original's table in the wild (expend_image_task, snake_case): migrate offers its open tasks, imports them once, never alters it")
    func expendImageTask() throws {
        try Self.scratch { db in
            try db.execute(unsafeSQL: """
                CREATE TABLE expend_image_task (
                  id BIGINT AUTO_INCREMENT PRIMARY KEY, task_id VARCHAR(64) NOT NULL UNIQUE, picture_id BIGINT NOT NULL,
                  user_id BIGINT NOT NULL, task_status VARCHAR(32) NOT NULL, output_image_url VARCHAR(1024) NULL,
                  create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
                  update_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
                  is_delete TINYINT NOT NULL DEFAULT 0) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci
                """)
            try db.execute("""
                INSERT INTO expend_image_task (task_id, picture_id, user_id, task_status, output_image_url, is_delete) VALUES
                  ('old-pending', 11, 21, 'PENDING', NULL, 0), ('old-running', 12, 22, 'RUNNING', NULL, 0),
                  ('old-done', 13, 23, 'SUCCEEDED', 'https://r/13.png', 0), ('old-deleted', 14, 24, 'RUNNING', NULL, 1)
                """)
            let checksum = { try db.query("CHECKSUM TABLE expend_image_task").first?["Checksum"] }
            let before = try checksum()
            try SchemaMigrator(directory: "sql/migrations", logger: Stack.logger).migrate(db)
            #expect(try OriginalTableImport.inspect(db) == OriginalTableImport.Found(openTasks: 2, alreadyImported: 0))
            #expect(try OriginalTableImport.importOpenTasks(db) == 2)
            #expect(try OriginalTableImport.importOpenTasks(db) == 0, "a second import copies nothing")
            #expect(try OriginalTableImport.inspect(db) == OriginalTableImport.Found(openTasks: 2, alreadyImported: 2))
            let imported = try TaskRepository.find(db, taskId: "old-running")
            #expect(imported?.status == .running && imported?.pictureId == 12 && imported?.userId == 22)
            #expect(imported?.pollerPartition == nil, "unclaimed: a reconciler adopts it")
            #expect(try TaskRepository.find(db, taskId: "old-done") == nil && TaskRepository.find(db, taskId: "old-deleted") == nil)
            #expect(try checksum() == before, "the original table is only read")
        }
    }
}
}
