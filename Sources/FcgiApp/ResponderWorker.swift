import Common
import Logging

/// What one FastCGI worker thread owns: its MySQL connection and its HTTP clients.
///
/// - Important: created on, and used only by, its own worker thread.
final class ResponderWorker {
    let database: MySQLSession
    let dashScope: DashScopeClient
    let loginHTTP = HTTPClient()

    init(configuration: ResponderConfiguration, logger: Logger) {
        database = MySQLSession(configuration: configuration.mysql, logger: logger)
        dashScope = DashScopeClient(configuration: configuration.dashScope)
    }
}
