/// Production never runs on development defaults.
///
/// The local stack's defaults (the DevServer as DashScope and as the host's login endpoint, the
/// key `sk-local-dev`, the stack's MariaDB and broker ports) apply only with
/// `OUTPAINTING_PROFILE=dev`, which `scripts/stack-env.sh` sets. Without it every program refuses
/// to start and names every variable a deployment must set, so a host that forgets one never talks
/// to a DevServer — whose login stand-in logs anyone in as any user — or fails obscurely later.
public enum DeploymentProfile {
    /// The program whose settings are checked.
    public enum Program: Sendable {
        case fcgi(loginMode: String)
        case poller
        case admin
    }

    /// Whether the local stack's defaults apply.
    public static func isDev(_ env: EnvironmentReader) -> Bool { env.raw("OUTPAINTING_PROFILE") == "dev" }

    /// What a deployment must set for `program` (the one list; `--help`, docs/configuration.md and
    /// `check-config` say the same).
    public static func required(for program: Program) -> [String] {
        let shared = ["MYSQL_HOST", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE", "DASHSCOPE_API_KEY"]
        switch program {
        case .fcgi(let loginMode):
            return shared + ["KAFKA_BOOTSTRAP_SERVERS"]
                + (loginMode == "trusted-param" ? ["TRUSTED_PARAM_SECRET"] : ["LOGIN_URL"])
        case .poller:
            return shared + ["KAFKA_BOOTSTRAP_SERVERS"]
        case .admin:
            return shared
        }
    }

    /// Refuses to go on outside the dev profile when any required variable is unset.
    public static func check(_ env: EnvironmentReader, for program: Program) throws(MissingSettings) {
        guard !isDev(env) else { return }
        let missing = required(for: program).filter { env.raw($0) == nil }
        if !missing.isEmpty { throw MissingSettings(names: missing) }
    }

    /// A default that points at the local stack: used only in the dev profile (after `check`, a
    /// production environment has the variable set).
    public static func devDefault(_ env: EnvironmentReader, _ dev: String, production: String = "") -> String {
        isDev(env) ? dev : production
    }

    /// Values that belong to the local stack only, found in a production environment (`check-config`).
    public static func developmentValues(_ env: EnvironmentReader) -> [String] {
        var found: [String] = []
        if env.raw("DASHSCOPE_API_KEY") == localAPIKey { found.append("DASHSCOPE_API_KEY is the local stack's key") }
        for name in ["DASHSCOPE_BASE_URL", "LOGIN_URL"] {
            if let url = env.raw(name), url.contains(":8089") || url.contains("devserver") {
                found.append("\(name) points at the DevServer (\(url))")
            }
        }
        return found
    }

    /// The local stack's DashScope key (the DevServer accepts it; real DashScope does not).
    public static let localAPIKey = "sk-local-dev"
}

/// Settings a production deployment must give, all of them named at once.
public struct MissingSettings: Error, CustomStringConvertible {
    public let names: [String]
    public var description: String {
        "missing required environment variables: \(names.joined(separator: ", ")) "
            + "(each must be set in production; OUTPAINTING_PROFILE=dev runs on the local stack's defaults instead)"
    }
}
