import ArgumentParser
import Common
import Foundation

/// `outpainting migrate`: the same idempotent migrations as `outpainting-poller migrate`.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the sql/ migrations to MYSQL_* (idempotent) and report what ran.")

    @Option(help: "Folder of V<n>__<name>.sql files (default: ./sql/migrations, else <prefix>/share/outpainting/sql/migrations).")
    var directory: String?

    @Flag(help: "Copy the open tasks of the original's expend_image_task table into out_painting_task, so they are followed (the original table is only read).")
    var importExpendImageTask = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reporting {
            let context = AdminContext()
            let folder = directory ?? Self.defaultDirectory()
            guard FileManager.default.fileExists(atPath: folder) else { throw AdminFailure.notFound("migrations folder \(folder)") }
            let migrator = SchemaMigrator(directory: folder, logger: context.logger)
            let db = try context.mysql()
            let applied = try migrator.migrate(db)
            let known = try migrator.migrations().count
            var lines = applied.isEmpty ? ["schema up to date (\(known) migrations in \(folder))"]
                : applied.map { "applied \($0)" } + ["\(applied.count) of \(known) migrations applied now"]
            var original: JSONValue = .null
            if let found = try OriginalTableImport.inspect(db) {
                let imported = importExpendImageTask ? try OriginalTableImport.importOpenTasks(db) : 0
                let waiting = found.openTasks - found.alreadyImported - imported
                original = .object([("openTasks", .int(Int64(found.openTasks))), ("imported", .int(Int64(imported))),
                                    ("notImported", .int(Int64(waiting)))])
                if importExpendImageTask {
                    lines.append("\(OriginalTableImport.table): imported \(imported) open tasks into out_painting_task (the Pollers adopt and follow them); the original table is unchanged")
                } else if waiting > 0 {
                    lines.append("found \(OriginalTableImport.table) (the original design's table) with \(waiting) open tasks not followed yet: "
                                 + "run `outpainting migrate --import-expend-image-task` to bring them into out_painting_task (it only reads the original)")
                }
            }
            AdminContext.emit(json: output.json, .object([("directory", .string(folder)), ("applied", .array(applied.map { .string($0) })),
                                                          ("known", .int(Int64(known))), ("expendImageTask", original)])) { lines }
        }
    }

    static func defaultDirectory() -> String {
        if FileManager.default.fileExists(atPath: "sql/migrations") { return "sql/migrations" }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/outpainting/sql/migrations").path
    }
}
