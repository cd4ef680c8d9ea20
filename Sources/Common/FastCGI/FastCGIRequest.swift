/// One FastCGI request, copied out of libfcgi's buffers before the next accept frees them.
public struct FastCGIRequest: Sendable {
    /// FastCGI params (`REQUEST_METHOD`, `QUERY_STRING`, `HTTP_COOKIE`, …).
    public let params: [String: String]
    /// The request body, at most the configured limit.
    public let body: [UInt8]
    /// True when the body was longer than the limit (the rest was discarded unread).
    public let bodyTooLarge: Bool

    public init(params: [String: String], body: [UInt8], bodyTooLarge: Bool = false) {
        self.params = params
        self.body = body
        self.bodyTooLarge = bodyTooLarge
    }

    public var method: String { params["REQUEST_METHOD"] ?? "GET" }
    /// The path without the query string.
    public var path: String {
        let uri = params["DOCUMENT_URI"] ?? params["SCRIPT_NAME"] ?? params["REQUEST_URI"] ?? "/"
        guard let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return uri }
        return String(uri[..<question])
    }
    public var queryString: String { params["QUERY_STRING"] ?? "" }
    public var cookie: String? { params["HTTP_COOKIE"] }
    public var contentType: String? { params["CONTENT_TYPE"] }
}

/// A response written back through nginx.
public struct FastCGIResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body with HTTP 200, as the host answers every business result.
    public static func json(_ text: String, status: Int = 200) -> FastCGIResponse {
        FastCGIResponse(status: status, headers: [("Content-Type", "application/json;charset=UTF-8")], body: Array(text.utf8))
    }

    /// The bytes of the CGI-style response head and body.
    var serialized: [UInt8] {
        var head = "Status: \(status) \(Self.reasonPhrase(status))\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Payload Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
