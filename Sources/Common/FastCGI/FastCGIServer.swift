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

/// A libfcgi responder: `workers` owned threads, each running requests with its own
/// `FCGX_Request` and its own per-thread resources (database connection, HTTP client), fed by a
/// `ConnectionDispatcher` thread that accepts connections and watches the kept-alive ones.
///
/// libfcgi parses and writes the protocol; who waits for a connection is ours: a worker is handed a
/// connection that has a request waiting (`ipcFd` set before `FCGX_Accept_r`, which then reads it
/// instead of accepting), and after the response a connection nginx keeps alive goes back to the
/// dispatcher instead of pinning the thread.
public final class FastCGIServer<Resources>: Sendable {
    public typealias Handler = @Sendable (FastCGIRequest, Resources) -> FastCGIResponse

    private let listenFD: Int32
    private let address: FastCGIListenAddress
    private let dispatcher: ConnectionDispatcher
    private let threads = OwnedThreads(name: "fcgi-worker")
    private let dispatcherThread = OwnedThreads(name: "fcgi-dispatch")
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
        dispatcher = try ConnectionDispatcher(listenFD: listenFD)
    }

    /// Starts the dispatcher and the workers. Each worker calls `makeResources` once, on its own
    /// thread, then serves requests.
    /// - Parameter running: how many workers may run at once (`RunSlots`); nil = all of them.
    public func start(workers: Int, running: Int? = nil, maxBodyBytes: Int,
                      makeResources: @escaping @Sendable () -> Resources, handler: @escaping Handler) {
        dispatcherThread.start(count: 1) { [dispatcher] _ in dispatcher.run() }
        let slots = RunSlots(count: min(running ?? workers, workers))
        threads.start(count: workers) { [dispatcher, logger] index in
            slots.adopt()
            let resources = makeResources()
            var request = FCGX_Request()
            // No listening socket: libfcgi must never accept by itself (the dispatcher does).
            FCGX_InitRequest(&request, -1, 0)
            defer { FCGX_Free(&request, 1) }
            while let connection = dispatcher.next() {
                slots.acquire()
                defer { slots.release() }
                request.ipcFd = connection
                // Until the request's own flag is read: the finish inside FCGX_Accept_r must not close it.
                request.keepConnection = 1
                guard FCGX_Accept_r(&request) >= 0 else {
                    continue  // closed by nginx or not FastCGI: libfcgi has closed it
                }
                let incoming = Self.read(&request, maxBodyBytes: maxBodyBytes)
                let response = handler(incoming, resources)
                let bytes = response.serialized
                let written = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), request.out) }
                }
                if written < 0 {
                    logger.debug("client went away before the response was written", metadata: ["worker": "\(index)"])
                }
                // Without this, closing shuts the socket for writing and then blocks the worker in
                // poll() until nginx closes its end (libfcgi's guard against unread input, which
                // `read` has already drained to EOF). Detached, libfcgi simply closes.
                FCGX_Detach(&request)
                FCGX_Finish_r(&request)
                if request.ipcFd >= 0 {  // nginx keeps it (FCGI_KEEP_CONN): wait for its next request
                    let kept = request.ipcFd
                    request.ipcFd = -1
                    dispatcher.keep(kept)
                }
            }
        }
    }

    private static func read(_ request: inout FCGX_Request, maxBodyBytes: Int) -> FastCGIRequest {
        var params: [String: String] = [:]
        params.reserveCapacity(40)
        if var cursor = request.envp {
            while let entry = cursor.pointee {
                // "NAME=value": split at the first '=' on the C string (no Character-level search).
                if let eq = strchr(entry, Int32(UInt8(ascii: "="))) {
                    let name = String(decoding: UnsafeRawBufferPointer(start: entry, count: eq - entry), as: UTF8.self)
                    params[name] = String(cString: eq + 1)
                }
                cursor += 1
            }
        }
        var body: [UInt8] = []
        var tooLarge = false
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 16 * 1024) { chunk in
            while true {
                let n = Int(FCGX_GetStr(chunk.baseAddress, Int32(chunk.count), request.in))
                if n <= 0 { break }
                if body.count + n > maxBodyBytes {
                    tooLarge = true
                    continue  // keep draining stdin so the connection stays in protocol
                }
                body.append(contentsOf: UnsafeRawBufferPointer(start: chunk.baseAddress, count: n))
            }
        }
        return FastCGIRequest(params: params, body: tooLarge ? [] : body, bodyTooLarge: tooLarge)
    }

    /// Stops accepting, closes idle kept-alive connections, lets in-flight and already-arrived
    /// requests finish, and waits for every thread to return.
    public func shutdown() async {
        dispatcher.close()
        await dispatcherThread.join()
        await threads.join()
        close(listenFD)
        if case .unix(let path, _) = address { unlink(path) }
    }
}

public struct FastCGIError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
