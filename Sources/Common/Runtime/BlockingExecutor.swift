import Foundation
import Synchronization

/// A fixed pool of owned threads, each holding a per-thread resource (a MySQL connection, a
/// curl handle), that runs blocking jobs for async callers or for other owned threads.
///
/// - Important: `Resource` is created on, used on and dropped on its own thread only.
public final class BlockingExecutor<Resource>: @unchecked Sendable {
    // @unchecked: `jobs`, `head` and `closed` are only touched while holding `condition`.
    private typealias Job = @Sendable (inout Resource) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var head = 0
    private var closed = false
    private let threads: OwnedThreads

    /// - Parameter makeResource: called once on each worker thread when it starts.
    public init(name: String, threads count: Int, makeResource: @escaping @Sendable () -> Resource) {
        threads = OwnedThreads(name: name)
        threads.start(count: count) { [self] _ in
            var resource = makeResource()
            while let job = self.next() {
                job(&resource)
            }
        }
    }

    /// The next job, waiting for one; nil once closed and drained.
    private func next() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count {
            if closed { return nil }
            condition.wait()
        }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        }
        return job
    }

    private func enqueue(_ job: @escaping Job) {
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    /// Runs `body` on a worker thread and suspends the caller until it returns.
    public func run<T: Sendable>(_ body: @escaping @Sendable (inout Resource) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            enqueue { resource in
                continuation.resume(with: Result { try body(&resource) })
            }
        }
    }

    /// Runs every job on the pool and blocks the calling (owned, non-cooperative) thread until all
    /// are done; results come back in input order.
    public func runAll<T: Sendable>(_ bodies: [@Sendable (inout Resource) -> T]) -> [T] {
        let results = Mutex([T?](repeating: nil, count: bodies.count))
        let group = DispatchGroup()
        for (i, body) in bodies.enumerated() {
            group.enter()
            enqueue { resource in
                let value = body(&resource)
                results.withLock { $0[i] = value }
                group.leave()
            }
        }
        group.wait()
        return results.withLock { $0.map { $0! } }
    }

    /// Lets queued jobs finish, then stops the threads.
    public func shutdown() async {
        condition.withLock {
            closed = true
            condition.broadcast()
        }
        await threads.join()
    }
}
