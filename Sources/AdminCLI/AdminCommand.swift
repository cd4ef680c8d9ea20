import ArgumentParser
import Common

@main
struct AdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpainting",
        abstract: "Operate the out-painting service: look at tasks, requeue stuck ones, the dead-letter topic, lag, schema, configuration.",
        discussion: """
            Reads the same environment as the daemons (MYSQL_*, KAFKA_*, DASHSCOPE_*, LOGIN_URL; README, "Configuration").
            Exit codes: 0 done; 1 not found, or a check failed; 2 a dependency could not be reached; 64 bad usage.
            Every command accepts --json for scripts.
            """,
        subcommands: [TaskCommand.self, TasksCommand.self, RequeueCommand.self, DeadLetterCommand.self, LagCommand.self,
                      MigrateCommand.self, CheckConfigCommand.self])
}

/// Options every subcommand takes.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON (one document) instead of text.")
    var json = false
}

/// Exit codes of the admin CLI.
enum AdminExit {
    static let notFound = ExitCode(1)
    static let checkFailed = ExitCode(1)
    static let unreachable = ExitCode(2)
}
