import Foundation

/// How many of the responder's worker threads may run at once. Workers mostly wait (DashScope,
/// the login endpoint, the submission pace), so there are many of them; but more runnable threads
/// than cores only adds context switches: with 16 runnable workers on 2 cores get_task's p99 was
/// 9–15 ms, with 4 under 5 ms (wrk, 64 connections). A worker holds a slot while it runs and gives
/// it up around each long wait (`whileWaiting`).
public final class RunSlots: @unchecked Sendable {
    // @unchecked: `free` is only touched while holding `condition`.
    private let condition = NSCondition()
    private var free: Int
    static let threadKey = "outpainting.run-slots"

    public init(count: Int) { free = max(1, count) }

    func acquire() {
        condition.lock()
        while free == 0 { condition.wait() }
        free -= 1
        condition.unlock()
    }

    func release() {
        condition.lock()
        free += 1
        condition.signal()
        condition.unlock()
    }

    /// Marks the calling thread as one whose slot `whileWaiting` may lend out.
    func adopt() { Thread.current.threadDictionary[Self.threadKey] = self }

    /// Runs a blocking wait (network call, sleep) without holding the calling worker's run slot,
    /// so another request runs meanwhile. Outside a responder worker it simply runs `body`.
    public static func whileWaiting<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard let slots = Thread.current.threadDictionary[threadKey] as? RunSlots else { return try body() }
        slots.release()
        defer { slots.acquire() }
        return try body()
    }
}
