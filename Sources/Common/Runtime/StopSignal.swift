import Foundation

/// A stop request for a loop on an owned thread, with a sleep the request cuts short — so a loop
/// that waits for its next round stops at once, not after its wait.
public final class StopSignal: @unchecked Sendable {
    // @unchecked: `stopped` is only touched while holding `condition`.
    private let condition = NSCondition()
    private var stopped = false

    public init() {}

    public var isStopped: Bool { condition.withLock { stopped } }

    public func stop() {
        condition.withLock {
            stopped = true
            condition.broadcast()
        }
    }

    /// Blocks the calling (owned) thread for `duration` or until `stop()`.
    /// - Returns: false when stopped.
    @discardableResult
    public func sleep(for duration: Duration) -> Bool {
        let deadline = Date().addingTimeInterval(Double(max(duration.milliseconds, 0)) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while !stopped, condition.wait(until: deadline) {}
        return !stopped
    }
}
