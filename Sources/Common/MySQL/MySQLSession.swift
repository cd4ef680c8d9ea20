import Logging

/// A thread's lazily (re)opened connection: the next use after a lost connection opens a new one.
///
/// - Important: like `MySQLConnection`, owned by one thread.
public final class MySQLSession {
    private let configuration: MySQLConfiguration
    private let logger: Logger
    private var connection: MySQLConnection?

    public init(configuration: MySQLConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs `body` with an open connection; drops the connection if `body` broke it.
    public func with<T>(_ body: (MySQLConnection) throws -> T) throws -> T {
        let connection = try open()
        defer {
            if connection.isBroken {
                logger.warning("MySQL connection lost; reconnecting on next use",
                               metadata: ["mysql.endpoint": "\(configuration.endpointDescription)"])
                self.connection = nil
            }
        }
        return try body(connection)
    }

    /// Runs an idempotent read (or an idempotent single write); if the connection turns out to be
    /// lost (e.g. the server restarted since the last use), reconnects and runs it once more.
    public func read<T>(_ body: (MySQLConnection) throws -> T) throws -> T {
        do {
            return try with(body)
        } catch let error as MySQLError where error.isConnectionLost {
            return try with(body)
        }
    }

    /// Runs a transaction, retrying it (up to `attempts` times) on deadlocks, lock timeouts and
    /// lost connections. `body` must be safe to run again.
    public func transaction<T>(attempts: Int = 3, _ body: (MySQLConnection) throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try with { try $0.transaction(body) }
            } catch let error as MySQLError where error.isRetriable && attempt < attempts {
                logger.warning("retrying transaction", metadata: ["attempt": "\(attempt)", LogKey.error: "\(error)"])
                attempt += 1
            }
        }
    }

    private func open() throws -> MySQLConnection {
        if let connection { return connection }
        let opened = try MySQLConnection(configuration)
        connection = opened
        return opened
    }
}
