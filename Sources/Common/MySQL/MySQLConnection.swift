internal import CMariaDB
import Logging

/// One connection to MySQL/MariaDB with a cache of prepared statements.
///
/// - Important: not thread-safe. Each owned thread opens its own connection and uses it alone
///   (FastCGI workers, the poller thread, the DevServer's database thread).
public final class MySQLConnection {
    private let handle: UnsafeMutablePointer<MYSQL>
    private var statements: [String: MySQLStatement] = [:]
    /// Set once a call failed in a way that leaves the connection unusable.
    public private(set) var isBroken = false

    /// Initializes the client library; call once from `main` before any thread connects.
    public static func initializeLibrary() {
        // mysql_library_init is a macro; mysql_server_init is the function behind it.
        _ = mysql_server_init(0, nil, nil)
    }

    public init(_ configuration: MySQLConfiguration) throws(MySQLError) {
        guard let mysql = mysql_init(nil) else {
            throw MySQLError(code: .connect, errno: 2008, sqlState: "HY000", message: "out of memory")
        }
        var connectTimeout = UInt32(configuration.connectTimeoutSeconds)
        var ioTimeout = UInt32(configuration.ioTimeoutSeconds)
        mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &ioTimeout)
        mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &ioTimeout)
        _ = "utf8mb4".withCString { mysql_options(mysql, MYSQL_SET_CHARSET_NAME, $0) }
        // Every statement of the service addresses rows by key; READ COMMITTED takes no gap locks,
        // which keeps concurrent inserts, claims and updates from deadlocking each other.
        _ = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".withCString {
            mysql_options(mysql, MYSQL_INIT_COMMAND, $0)
        }
        let connected = mysql_real_connect(mysql, configuration.host, configuration.user, configuration.password,
                                           configuration.database, UInt32(configuration.port), nil, 0)
        guard connected != nil else {
            let error = MySQLError(code: .connect, errno: mysql_errno(mysql),
                                   sqlState: String(cString: mysql_sqlstate(mysql)),
                                   message: String(cString: mysql_error(mysql)))
            mysql_close(mysql)
            throw error
        }
        handle = mysql
    }

    deinit {
        statements.removeAll()
        mysql_close(handle)
    }

    // MARK: - Prepared statements

    private func statement(_ sql: String) throws(MySQLError) -> MySQLStatement {
        if let cached = statements[sql] { return cached }
        let prepared = try guarded { () throws(MySQLError) in try MySQLStatement(connection: handle, sql: sql) }
        statements[sql] = prepared
        return prepared
    }

    /// Runs a SELECT (or anything with a result set) with bound values.
    public func query(_ sql: String, _ values: [MySQLValue] = []) throws(MySQLError) -> [MySQLRow] {
        let stmt = try statement(sql)
        return try guarded { () throws(MySQLError) in try stmt.execute(values).rows }
    }

    /// Runs an INSERT/UPDATE/DELETE with bound values.
    @discardableResult
    public func execute(_ sql: String, _ values: [MySQLValue] = []) throws(MySQLError) -> MySQLExecuteResult {
        let stmt = try statement(sql)
        return try guarded { () throws(MySQLError) in try stmt.execute(values).result }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: (MySQLConnection) throws -> T) throws -> T {
        try execute("START TRANSACTION")
        do {
            let value = try body(self)
            try execute("COMMIT")
            return value
        } catch {
            if !isBroken { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs SQL text through the text protocol. Only for trusted, value-free text from `sql/`
    /// (migrations): nothing from a request may ever reach it.
    public func execute(unsafeSQL sql: String) throws(MySQLError) {
        let rc = sql.withCString { mysql_real_query(handle, $0, UInt(sql.utf8.count)) }
        if rc != 0 { throw lastError(.query) }
        // Drain any result sets so the connection stays usable.
        repeat {
            if let result = mysql_store_result(handle) { mysql_free_result(result) }
        } while mysql_next_result(handle) == 0
    }

    /// Checks the connection with a round trip.
    public func ping() -> Bool {
        mysql_ping(handle) == 0
    }

    private func lastError(_ code: MySQLError.Code) -> MySQLError {
        let error = MySQLError(code: code, errno: mysql_errno(handle), sqlState: String(cString: mysql_sqlstate(handle)),
                               message: String(cString: mysql_error(handle)))
        if error.isConnectionLost { isBroken = true }
        return error
    }

    private func guarded<T>(_ body: () throws(MySQLError) -> T) throws(MySQLError) -> T {
        do {
            return try body()
        } catch {
            if error.isConnectionLost { isBroken = true }
            throw error
        }
    }
}
