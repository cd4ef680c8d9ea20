/// A failure reported by MariaDB Connector/C or the server.
///
/// `description` is safe to log (no SQL, no bound values); `debugDescription` adds the server's
/// message, which can quote data (e.g. a duplicate key's value).
public struct MySQLError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        public static let connect = Code(name: "connect")
        public static let prepare = Code(name: "prepare")
        public static let execute = Code(name: "execute")
        public static let fetch = Code(name: "fetch")
        public static let query = Code(name: "query")
        public var description: String { name }
    }

    public let code: Code
    /// The server or client error number (`ER_*`, `CR_*`).
    public let errno: UInt32
    public let sqlState: String
    public let message: String
    public let file: String
    public let line: Int

    public init(code: Code, errno: UInt32, sqlState: String, message: String,
                file: String = #fileID, line: Int = #line) {
        self.code = code
        self.errno = errno
        self.sqlState = sqlState
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "MySQL \(code) failed: errno \(errno) (SQLSTATE \(sqlState))" }
    public var debugDescription: String { "\(description): \(message) [\(file):\(line)]" }

    // MARK: - Errnos the service acts on

    public static let duplicateEntry: UInt32 = 1062
    public static let lockWaitTimeout: UInt32 = 1205
    public static let deadlock: UInt32 = 1213
    public static let serverGone: UInt32 = 2006
    public static let serverLost: UInt32 = 2013
    public static let cannotConnect: UInt32 = 2002
    public static let cannotConnectTCP: UInt32 = 2003

    /// The connection can no longer be used; open a new one.
    public var isConnectionLost: Bool {
        code == .connect || [Self.serverGone, Self.serverLost, Self.cannotConnect, Self.cannotConnectTCP].contains(errno)
            || (errno >= 2000 && errno < 3000)
    }

    /// Running the same transaction again may succeed.
    public var isRetriable: Bool {
        errno == Self.deadlock || errno == Self.lockWaitTimeout || isConnectionLost
    }
}
