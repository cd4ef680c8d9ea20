import Foundation
import Testing
@testable import Common

@Suite("run slots of the responder's workers")
struct RunSlotsTests {
    @Test("a worker waiting on the network lends its slot: with one slot, another request runs meanwhile")
    func waitingLendsTheSlot() {
        let slots = RunSlots(count: 1)
        let secondRan = DispatchSemaphore(value: 0)
        let firstDone = DispatchSemaphore(value: 0)
        let secondEntered = DispatchSemaphore(value: 0)
        let firstWaiting = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            slots.adopt()
            slots.acquire()
            // The "network wait" ends only once the second worker has run on the lent slot.
            RunSlots.whileWaiting {
                firstWaiting.signal()
                _ = secondRan.wait(timeout: .now() + 10)
            }
            slots.release()
            firstDone.signal()
        }
        Thread.detachNewThread {
            slots.adopt()
            _ = firstWaiting.wait(timeout: .now() + 10)  // the first worker holds its slot and now waits
            secondEntered.signal()
            slots.acquire()
            secondRan.signal()
            slots.release()
        }
        #expect(secondEntered.wait(timeout: .now() + 10) == .success)
        #expect(firstDone.wait(timeout: .now() + 10) == .success)
        // Had the slot not been lent, the first worker's wait would have timed out above and the
        // second would only have run afterwards; `secondRan` was consumed by the first worker.
        #expect(secondRan.wait(timeout: .now()) == .timedOut)
    }

    @Test("outside a responder worker, whileWaiting just runs its body")
    func outsideAWorker() {
        #expect(RunSlots.whileWaiting { 42 } == 42)
    }
}
