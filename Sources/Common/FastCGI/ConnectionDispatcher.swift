internal import CSupport
import DequeModule
import Foundation

/// Accepts FastCGI connections and watches the idle kept-alive ones with epoll, handing each
/// connection that has a request waiting to the next free worker.
///
/// Why: libfcgi serves a connection on the thread that accepted it until the connection closes, so
/// with `fastcgi_keep_conn` every idle kept-alive connection pinned a worker thread and nginx could
/// stall (ENVIRONMENT.md's trap), and without it every request paid a connect, an accept and a
/// close. Here an idle connection costs an epoll entry, not a thread: nginx may keep as many as it
/// likes, and the workers only ever run requests.
final class ConnectionDispatcher: @unchecked Sendable {
    // @unchecked: `ready`, `idle` and `closed` are only touched while holding `condition`; the
    // descriptors are owned as described on each method.
    private let listenFD: Int32
    private let epollFD: Int32
    private let condition = NSCondition()
    /// Connections with a request waiting, in arrival order.
    private var ready = Deque<Int32>()
    /// Kept-alive connections registered with epoll and not handed out.
    private var idle = Set<Int32>()
    private var closed = false

    init(listenFD: Int32) throws {
        self.listenFD = listenFD
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw FastCGIError("epoll_create1 failed: \(String(cString: strerror(errno)))") }
        // Non-blocking, so one readiness event can accept every connection waiting and stop at EAGAIN.
        _ = fcntl(listenFD, F_SETFL, fcntl(listenFD, F_GETFL) | O_NONBLOCK)
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = listenFD
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, listenFD, &event) == 0 else {
            throw FastCGIError("epoll_ctl(listen) failed: \(String(cString: strerror(errno)))")
        }
    }

    deinit { Foundation.close(epollFD) }

    /// The dispatcher thread's loop: returns once `close()` was called.
    func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while !isClosed {
            // A bounded wait, so that `close()` is noticed without a wake-up descriptor.
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epollFD, $0.baseAddress, Int32($0.count), 100) }
            guard count > 0 else { continue }
            var accepted: [Int32] = []
            var woken: [Int32] = []
            for event in events[0..<Int(count)] {
                if event.data.fd == listenFD {
                    acceptWaiting(into: &accepted)
                } else {
                    woken.append(event.data.fd)
                }
            }
            hand(accepted: accepted, woken: woken)
        }
    }

    /// The next connection with a request waiting; nil once closed and drained. The caller owns
    /// the descriptor until it gives it back (`keep`) or closes it.
    func next() -> Int32? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty {
            if closed { return nil }
            condition.wait()
        }
        return ready.removeFirst()
    }

    /// Watches a kept-alive connection for its next request (one-shot: it is handed out once).
    func keep(_ fd: Int32) {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else {
            Foundation.close(fd)
            return
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLONESHOT.rawValue
        event.data.fd = fd
        // Re-arm if epoll knows it from an earlier round, else add it (a newly accepted connection).
        if epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event) != 0 && epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) != 0 {
            Foundation.close(fd)
            return
        }
        idle.insert(fd)
    }

    /// Stops accepting and closes the idle kept-alive connections (nginx opens new ones to the
    /// next responder); connections already handed out or waiting are still served.
    func close() {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return }
        closed = true
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, listenFD, nil)
        for fd in idle {
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
            Foundation.close(fd)
        }
        idle.removeAll()
        condition.broadcast()
    }

    private var isClosed: Bool { condition.withLock { closed } }

    private func acceptWaiting(into accepted: inout [Int32]) {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                accepted.append(fd)  // nginx writes the request right after connecting
                continue
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return  // EAGAIN: none left; EMFILE and the like: try again on the next event
        }
    }

    private func hand(accepted: [Int32], woken: [Int32]) {
        guard !accepted.isEmpty || !woken.isEmpty else { return }
        condition.lock()
        defer { condition.unlock() }
        if closed {
            for fd in accepted { Foundation.close(fd) }
            return  // woken ones were idle and `close()` closed them: their numbers may be reused
        }
        let before = ready.count
        ready.append(contentsOf: accepted)
        // Only connections still idle: the event may predate `close()`.
        for fd in woken where idle.remove(fd) != nil { ready.append(fd) }
        // One wake-up per connection: a broadcast would wake every idle worker for each one.
        for _ in before..<ready.count { condition.signal() }
    }
}
