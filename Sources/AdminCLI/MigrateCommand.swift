import ArgumentParser
import Common
import Foundation

/// `outpainting migrate`: the same idempotent migrations as `outpainting-poller migrate`.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the sql/ migrations to MYSQL_* (idempotent) and report what ran.")

    @Option(help: "Folder of V<n>__<name>.sql files (default: ./sql/migrations, else <prefix>/share/outpainting/sql/migrations).")
    var directory: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        try reporting {
            let context = AdminContext()
            let folder = directory ?? Self.defaultDirectory()
            guard FileManager.default.fileExists(atPath: folder) else { throw AdminFailure.notFound("migrations folder \(folder)") }
            let migrator = SchemaMigrator(directory: folder, logger: context.logger)
            let applied = try migrator.migrate(try context.mysql())
            let known = try migrator.migrations().count
            AdminContext.emit(json: output.json, .object([("directory", .string(folder)), ("applied", .array(applied.map { .string($0) })),
                                                          ("known", .int(Int64(known)))])) {
                applied.isEmpty ? ["schema up to date (\(known) migrations in \(folder))"]
                    : applied.map { "applied \($0)" } + ["\(applied.count) of \(known) migrations applied now"]
            }
        }
    }

    static func defaultDirectory() -> String {
        if FileManager.default.fileExists(atPath: "sql/migrations") { return "sql/migrations" }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/outpainting/sql/migrations").path
    }
}
