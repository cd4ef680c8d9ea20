import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A FastCGI client with no nginx in between: what any local process that can write to the
/// responder's socket could send (tests of the trusted-param mode's shared secret).
enum RawFastCGI {
    struct Failure: Error, CustomStringConvertible { let description: String }

    /// One request with `params` (and an empty body) to the unix socket at `path`; the CGI response (head and body).
    static func request(socket path: String, params: [String: String]) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect \(path): \(errno)") }

        var out: [UInt8] = []
        func record(_ type: UInt8, _ content: [UInt8]) {
            out += [1, type, 0, 1, UInt8(content.count >> 8), UInt8(content.count & 0xFF), 0, 0] + content
        }
        func length(_ n: Int) -> [UInt8] {
            n < 128 ? [UInt8(n)] : [UInt8((n >> 24) | 0x80), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        }
        record(1, [0, 1, 0, 0, 0, 0, 0, 0])  // BEGIN_REQUEST, role responder, do not keep the connection
        var pairs: [UInt8] = []
        for (name, value) in params {
            pairs += length(name.utf8.count) + length(value.utf8.count) + Array(name.utf8) + Array(value.utf8)
        }
        record(4, pairs)
        record(4, [])
        record(5, [])
        guard out.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == out.count else { throw Failure(description: "write") }

        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            input += buffer[0..<n]
        }
        // STDOUT records' content, in order.
        var stdout: [UInt8] = [], i = 0
        while i + 8 <= input.count {
            let type = input[i + 1], contentLength = Int(input[i + 4]) << 8 | Int(input[i + 5]), padding = Int(input[i + 6])
            guard i + 8 + contentLength <= input.count else { break }
            if type == 6 { stdout += input[(i + 8)..<(i + 8 + contentLength)] }
            i += 8 + contentLength + padding
        }
        return String(decoding: stdout, as: UTF8.self)
    }
}
