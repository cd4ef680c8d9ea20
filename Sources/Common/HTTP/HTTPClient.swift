internal import CCurl
import Foundation

/// An outgoing HTTP request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    /// Whole-request deadline (connect + send + receive).
    public var timeout: Duration

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                timeout: Duration) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A received HTTP response (any status).
public struct HTTPResponse: Sendable {
    public let status: Int
    public let body: [UInt8]
    /// Header names lower-cased.
    public let headers: [String: String]

    public init(status: Int, body: [UInt8], headers: [String: String]) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A transport failure: nothing usable came back (timeout, refused, reset, DNS).
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public let curlCode: Int
    public let reason: String
    public var isTimeout: Bool { curlCode == 28 }
    public var description: String { "HTTP transport error \(curlCode): \(reason)" }
}

/// A blocking HTTP/1.1 client over libcurl that keeps its connections alive between calls.
///
/// - Important: one instance per owned thread (curl easy handles are not thread-safe); calls block,
///   so never make them on Swift's cooperative pool.
public final class HTTPClient {
    private let handle: UnsafeMutableRawPointer

    /// Call once from `main` before any thread creates a client (curl_global_init is not thread-safe).
    public static func initializeLibrary() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }

    public init() {
        guard let easy = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        handle = easy
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    public func send(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        curl_easy_reset(handle)
        let sink = ResponseSink()
        let sinkPointer = Unmanaged.passRetained(sink)
        defer { sinkPointer.release() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // curl adds "Expect: 100-continue" to larger POSTs, costing a round trip; turn it off.
        headerList = curl_slist_append(headerList, "Expect:")

        let milliseconds = Int(request.timeout.components.seconds * 1000
                               + request.timeout.components.attoseconds / 1_000_000_000_000_000)
        op_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        op_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, max(milliseconds, 1))
        op_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, max(min(milliseconds, 3000), 1))
        op_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        op_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList)
        op_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        })
        op_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer.toOpaque())
        op_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            sink.addHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        })
        op_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer.toOpaque())

        let code: CURLcode = request.url.withCString { url in
            request.method.withCString { method in
                op_curl_setopt_pointer(handle, CURLOPT_URL, url)
                op_curl_setopt_pointer(handle, CURLOPT_CUSTOMREQUEST, method)
                if let body = request.body {
                    op_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                    return body.withUnsafeBytes { bytes in
                        op_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, bytes.baseAddress ?? UnsafeRawPointer(url))
                        return curl_easy_perform(handle)
                    }
                }
                if request.method == "GET" { op_curl_setopt_long(handle, CURLOPT_HTTPGET, 1) }
                return curl_easy_perform(handle)
            }
        }
        guard code == CURLE_OK else {
            throw HTTPClientError(curlCode: Int(code.rawValue), reason: String(cString: curl_easy_strerror(code)))
        }
        var status = 0
        op_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, body: sink.body, headers: sink.headers)
    }
}

/// Collects a response's body and headers while curl writes them.
private final class ResponseSink {
    var body: [UInt8] = []
    var headers: [String: String] = [:]

    func addHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        let line = String(decoding: bytes, as: UTF8.self)
        if line.hasPrefix("HTTP/") { headers = [:]; return }  // a new response (e.g. after 100 Continue)
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers[name] = value
    }
}
