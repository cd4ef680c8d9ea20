/// Where and how to reach MySQL / MariaDB.
public struct MySQLConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    /// - Important: never logged.
    public var password: String
    public var database: String
    public var connectTimeoutSeconds: Int
    /// Bounds every read and write on the socket, so a stuck server cannot hold a thread forever.
    public var ioTimeoutSeconds: Int

    public init(host: String = "127.0.0.1", port: Int = 3307, user: String = "outpaint", password: String = "outpaint",
                database: String = "image_host", connectTimeoutSeconds: Int = 3, ioTimeoutSeconds: Int = 10) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.ioTimeoutSeconds = ioTimeoutSeconds
    }

    /// Reads `MYSQL_HOST`, `MYSQL_PORT`, `MYSQL_USER`, `MYSQL_PASSWORD`, `MYSQL_DATABASE`,
    /// `MYSQL_CONNECT_TIMEOUT_S`, `MYSQL_IO_TIMEOUT_S`.
    /// - Parameter ioTimeoutDefault: seconds when `MYSQL_IO_TIMEOUT_S` is unset (the responder
    ///   wants a short one: its queries are point lookups and a user is waiting).
    /// The local stack's values are the defaults only with `OUTPAINTING_PROFILE=dev` (a production
    /// environment must set host, user, password and database: `DeploymentProfile`); the port defaults
    /// to MySQL's 3306 there.
    public static func fromEnvironment(_ env: EnvironmentReader, ioTimeoutDefault: Int? = nil) throws -> MySQLConfiguration {
        let d = MySQLConfiguration()
        let dev = DeploymentProfile.isDev(env)
        return MySQLConfiguration(
            host: env.string("MYSQL_HOST", default: dev ? d.host : ""),
            port: try env.int("MYSQL_PORT", default: dev ? d.port : 3306, range: 1...65535),
            user: env.string("MYSQL_USER", default: dev ? d.user : ""),
            password: env.string("MYSQL_PASSWORD", default: dev ? d.password : ""),
            database: env.string("MYSQL_DATABASE", default: dev ? d.database : ""),
            connectTimeoutSeconds: try env.int("MYSQL_CONNECT_TIMEOUT_S", default: d.connectTimeoutSeconds, range: 1...600),
            ioTimeoutSeconds: try env.int("MYSQL_IO_TIMEOUT_S", default: ioTimeoutDefault ?? d.ioTimeoutSeconds, range: 1...3600)
        )
    }

    /// Safe to log: no password.
    public var endpointDescription: String { "\(user)@\(host):\(port)/\(database)" }
}
