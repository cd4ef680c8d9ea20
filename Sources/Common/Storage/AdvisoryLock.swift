/// A MySQL advisory lock (`GET_LOCK`) held while `body` runs: it serializes work on one name across
/// every worker and instance, and is released when `body` returns or the connection drops.
public enum AdvisoryLock {
    /// The refusal when the lock is not free within the wait.
    public static let busy = BusinessError(.operationError, "操作过于频繁，请稍后重试")

    public static func holding<T>(_ name: String, on connection: MySQLConnection, wait: Duration,
                                  _ body: () throws -> T) throws -> T {
        let seconds = Double(wait.milliseconds) / 1000
        guard try connection.query("SELECT GET_LOCK(?, ?) AS locked", [.string(name), .double(seconds)]).first?.int("locked") == 1 else {
            throw busy
        }
        defer { _ = try? connection.query("SELECT RELEASE_LOCK(?) AS released", [.string(name)]) }
        return try body()
    }
}
