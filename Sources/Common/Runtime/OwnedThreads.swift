import Foundation
import Synchronization

/// Threads this process owns for blocking C calls (libfcgi accept, MySQL, librdkafka, libcurl),
/// so that none of them ever blocks Swift's cooperative thread pool.
///
/// `join()` suspends (without blocking a thread) until every started thread has returned.
public final class OwnedThreads: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let name: String

    public init(name: String) {
        self.name = name
    }

    /// Starts `count` threads, each running `body(index)` to completion.
    public func start(count: Int, stackSize: Int = 1 << 20, _ body: @escaping @Sendable (Int) -> Void) {
        state.withLock { $0.running += count }
        for index in 0..<count {
            let thread = Thread { [self] in
                body(index)
                self.finished()
            }
            thread.name = "\(name)-\(index)"
            thread.stackSize = stackSize
            thread.start()
        }
    }

    private func finished() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.running -= 1
            guard state.running == 0 else { return [] }
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        waiters.forEach { $0.resume() }
    }

    public func join() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock {
                if $0.running == 0 { return true }
                $0.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Blocks the calling thread until every started thread has returned — for command-line tools
    /// whose main thread is theirs to block; async code uses `join()`.
    public func joinBlocking() {
        while state.withLock({ $0.running }) > 0 { usleep(5_000) }
    }
}
