internal import CFastCGI
import Foundation
import Logging

/// Where the responder listens.
public enum FastCGIListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// `host:port` or `:port`.
    case tcp(String)
    /// A unix socket path; a stale socket file is replaced.
    case unix(path: String, mode: UInt16)
    /// A listening socket inherited on file descriptor 0 (spawn-fcgi, systemd socket activation).
    case inherited

    /// Parses `FCGI_LISTEN`: `fd:0`, a path starting with `/` or `.`, or `[host]:port`.
    public static func parse(_ text: String, unixMode: UInt16 = 0o660) -> FastCGIListenAddress? {
        if text == "fd:0" || text == "stdin" { return .inherited }
        if text.hasPrefix("/") || text.hasPrefix(".") { return .unix(path: text, mode: unixMode) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        return .tcp(text)
    }

    public var description: String {
        switch self {
        case .tcp(let address): "tcp \(address)"
        case .unix(let path, _): "unix \(path)"
        case .inherited: "inherited fd 0"
        }
    }
}

/// A libfcgi responder: `workers` owned threads, each looping accept → handle → finish with its own
/// `FCGX_Request` and its own per-thread resources (database connection, HTTP client).
public final class FastCGIServer<Resources>: Sendable {
    public typealias Handler = @Sendable (FastCGIRequest, Resources) -> FastCGIResponse

    private let listenFD: Int32
    private let address: FastCGIListenAddress
    private let threads = OwnedThreads(name: "fcgi-worker")
    private let logger: Logger

    /// Opens the listening socket (or adopts fd 0).
    public init(address: FastCGIListenAddress, backlog: Int32 = 1024, logger: Logger) throws {
        self.address = address
        self.logger = logger
        guard FCGX_Init() == 0 else { throw FastCGIError("FCGX_Init failed") }
        switch address {
        case .inherited:
            listenFD = 0
        case .tcp(let text):
            listenFD = FCGX_OpenSocket(text, backlog)
        case .unix(let path, let mode):
            listenFD = FCGX_OpenSocket(path, backlog)
            if listenFD >= 0 { chmod(path, mode_t(mode)) }
        }
        guard listenFD >= 0 else { throw FastCGIError("cannot listen on \(address): \(String(cString: strerror(errno)))") }
    }

    /// Starts the workers. Each calls `makeResources` once, on its own thread, then serves requests.
    public func start(workers: Int, maxBodyBytes: Int,
                      makeResources: @escaping @Sendable () -> Resources, handler: @escaping Handler) {
        threads.start(count: workers) { [listenFD, logger] index in
            let resources = makeResources()
            var request = FCGX_Request()
            FCGX_InitRequest(&request, listenFD, 0)
            defer { FCGX_Free(&request, 1) }
            while FCGX_Accept_r(&request) >= 0 {
                let incoming = Self.read(&request, maxBodyBytes: maxBodyBytes)
                let response = handler(incoming, resources)
                let bytes = response.serialized
                let written = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), request.out) }
                }
                if written < 0 {
                    logger.debug("client went away before the response was written", metadata: ["worker": "\(index)"])
                }
                FCGX_Finish_r(&request)
            }
        }
    }

    private static func read(_ request: inout FCGX_Request, maxBodyBytes: Int) -> FastCGIRequest {
        var params: [String: String] = [:]
        if var cursor = request.envp {
            while let entry = cursor.pointee {
                let pair = String(cString: entry)
                if let eq = pair.firstIndex(of: "=") {
                    params[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
                }
                cursor += 1
            }
        }
        var body: [UInt8] = []
        var tooLarge = false
        var chunk = [CChar](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBufferPointer { FCGX_GetStr($0.baseAddress, Int32($0.count), request.in) }
            if n <= 0 { break }
            if body.count + Int(n) > maxBodyBytes {
                tooLarge = true
                continue  // keep draining stdin so the connection stays in protocol
            }
            body.append(contentsOf: chunk[0..<Int(n)].map { UInt8(bitPattern: $0) })
        }
        return FastCGIRequest(params: params, body: tooLarge ? [] : body, bodyTooLarge: tooLarge)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for every worker to return.
    public func shutdown() async {
        FCGX_ShutdownPending()
        // FCGX_ShutdownPending alone leaves a thread blocked in accept(); shutting the socket wakes it.
        Foundation.shutdown(listenFD, Int32(SHUT_RDWR))
        await threads.join()
        close(listenFD)
        if case .unix(let path, _) = address { unlink(path) }
    }
}

public struct FastCGIError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
