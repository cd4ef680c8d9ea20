import Logging

/// Bootstraps swift-log for an executable (only `@main` calls this; libraries take a `Logger`).
public enum LoggingSetup {
    /// Reads `LOG_LEVEL` (trace…critical, default info) and `LOG_FORMAT` (`text`, or `json` for one
    /// JSON object per line).
    public static func bootstrap(label: String, environment: EnvironmentReader) -> Logger {
        let level = environment.raw("LOG_LEVEL").flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        let json = environment.string("LOG_FORMAT", default: "text").lowercased() == "json"
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
