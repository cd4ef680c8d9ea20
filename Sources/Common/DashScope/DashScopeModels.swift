/// Where DashScope is and how to call it.
public struct DashScopeConfiguration: Sendable {
    /// e.g. `https://dashscope.aliyuncs.com/api/v1`; locally the DevServer.
    public var baseURL: String
    /// - Important: never logged.
    public var apiKey: String
    public var createTimeout: Duration
    public var queryTimeout: Duration

    public init(baseURL: String = "http://127.0.0.1:8089/api/v1", apiKey: String = "sk-local-dev",
                createTimeout: Duration = .seconds(10), queryTimeout: Duration = .seconds(5)) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.createTimeout = createTimeout
        self.queryTimeout = queryTimeout
    }

    /// Aliyun's endpoint (DASHSCOPE.md §1); the local stack uses the DevServer.
    public static let productionBaseURL = "https://dashscope.aliyuncs.com/api/v1"

    /// Reads `DASHSCOPE_BASE_URL`, `DASHSCOPE_API_KEY`, `DASHSCOPE_CREATE_TIMEOUT_MS`, `DASHSCOPE_QUERY_TIMEOUT_MS`.
    /// The DevServer and its key are the defaults only with `OUTPAINTING_PROFILE=dev`; otherwise
    /// the base URL defaults to Aliyun's and the key must be set (`DeploymentProfile`).
    public static func fromEnvironment(_ env: EnvironmentReader) throws -> DashScopeConfiguration {
        let d = DashScopeConfiguration()
        return DashScopeConfiguration(
            baseURL: env.string("DASHSCOPE_BASE_URL", default: DeploymentProfile.devDefault(env, d.baseURL, production: productionBaseURL)),
            apiKey: env.string("DASHSCOPE_API_KEY", default: DeploymentProfile.devDefault(env, d.apiKey)),
            createTimeout: try env.milliseconds("DASHSCOPE_CREATE_TIMEOUT_MS", default: 10_000),
            queryTimeout: try env.milliseconds("DASHSCOPE_QUERY_TIMEOUT_MS", default: 5_000)
        )
    }
}

/// A task as the single-task query reports it (`GET /tasks/{id}`).
public struct DashScopeTaskView: Sendable, Equatable {
    public var taskId: String
    public var status: TaskStatus
    public var submitTime: String?
    public var scheduledTime: String?
    public var endTime: String?
    public var outputImageUrl: String?
    public var code: String?
    public var message: String?
    public var requestId: String?

    public init(taskId: String, status: TaskStatus, submitTime: String? = nil, scheduledTime: String? = nil,
                endTime: String? = nil, outputImageUrl: String? = nil, code: String? = nil, message: String? = nil,
                requestId: String? = nil) {
        self.taskId = taskId
        self.status = status
        self.submitTime = submitTime
        self.scheduledTime = scheduledTime
        self.endTime = endTime
        self.outputImageUrl = outputImageUrl
        self.code = code
        self.message = message
        self.requestId = requestId
    }
}

/// What a successful create returned.
public struct DashScopeCreatedTask: Sendable, Equatable {
    public let taskId: String
    public let status: TaskStatus
    public let requestId: String
}

/// One entry of a list query page (no result URL).
public struct DashScopeListEntry: Sendable, Equatable {
    public let taskId: String
    public let status: TaskStatus
    /// `gmt_create`: when DashScope accepted the task (epoch ms), if the page says.
    public var submittedAtEpochMs: Int64? = nil
}

/// One page of `GET /tasks`.
public struct DashScopeListPage: Sendable, Equatable {
    public let entries: [DashScopeListEntry]
    public let total: Int
    public let totalPages: Int
    public let pageNo: Int
}

/// A DashScope call that did not succeed.
public struct DashScopeError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// 429: a rate quota (queries 20/s, submissions 2/s per account).
        case throttled
        /// 401/403: bad key, account problem, missing async header — an operator must act.
        case unauthorized
        /// Other 4xx: DashScope refused the request's content.
        case badRequest
        /// 5xx.
        case server
        /// No answer: timeout, refused, reset.
        case transport
        /// An answer that does not have the documented shape.
        case malformed
    }

    public let kind: Kind
    public let httpStatus: Int
    /// DashScope's error code, e.g. `Throttling.RateQuota`.
    public let code: String?
    /// DashScope's message (safe to show: it never contains our key).
    public let message: String?
    public let requestId: String?
    /// Seconds from a `Retry-After` header, when sent.
    public let retryAfterSeconds: Double?

    public var description: String {
        "DashScope \(kind) (HTTP \(httpStatus)\(code.map { ", \($0)" } ?? "")\(message.map { ": \($0)" } ?? ""))"
    }
}
