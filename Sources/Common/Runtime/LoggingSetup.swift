import Logging

/// Bootstraps swift-log for an executable (only `@main` calls this; libraries take a `Logger`).
public enum LoggingSetup {
    /// Reads `LOG_LEVEL` (trace…critical, default info).
    public static func bootstrap(label: String, environment: EnvironmentReader) -> Logger {
        let level = environment.raw("LOG_LEVEL").flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
