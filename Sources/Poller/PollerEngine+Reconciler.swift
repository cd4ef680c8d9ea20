import Common
import Foundation
import Logging

extension PollerEngine {
    /// `pollerPartition` of a task a reconciler adopted: followed outside Kafka's ownership.
    static let adoptedPartition: Int32 = -1

    /// Adopts tasks no consumer follows: never claimed (the produce at create time failed, or the
    /// message sits on a partition whose owner is gone), or claimed but not checked for too long
    /// (the owner stopped). The instance that wins the task's `requeueTime` lease follows it itself
    /// — no Kafka round trip, so this works while the broker is down. The row's `pollerPartition`
    /// becomes -1 (adopted); if the adopter dies too, the task goes stale and another adopts it.
    /// A duplicate follower would only cost queries: every state change is monotonic.
    func reconcile() {
        let orphans: [TaskRecord]
        do {
            orphans = try database.with {
                try TaskRepository.orphans($0, unclaimedAfterSeconds: Int(config.orphanUnclaimedAfter.components.seconds),
                                           staleAfterSeconds: Int(config.orphanStaleAfter.components.seconds), limit: 500)
            }
        } catch {
            logger.warning("reconciler cannot read MySQL", metadata: [LogKey.error: "\(error)"])
            return
        }
        let lease = Int(max(config.orphanUnclaimedAfter, config.reconcileInterval).components.seconds) * 2
        let start = now
        for record in orphans where !tracker.isFollowing(record.taskId) {
            do {
                let adopted = try database.with { connection -> Bool in
                    guard try TaskRepository.leaseRequeue(connection, taskId: record.taskId, leaseSeconds: lease) else { return false }
                    _ = try TaskRepository.claim(connection, taskId: record.taskId, partition: Self.adoptedPartition,
                                                 firstCheckInMilliseconds: 0)
                    return true
                }
                guard adopted else { continue }
                OutpaintingMetrics.reconcilerAdopted()
                tracker.follow(taskId: record.taskId, partition: Self.adoptedPartition, dueAt: start, checks: 0,
                               deadlineAt: deadline(ageSeconds: record.ageSeconds), createdAtEpochMs: record.createdAtEpochMilliseconds,
                               status: record.status)
                statistics.requeued.add(1, ordering: .relaxed)
                logger.info("adopted an orphaned task", metadata: [LogKey.taskID: "\(record.taskId)",
                                                                  "was_claimed": "\(record.pollerPartition != nil)"])
            } catch {
                logger.warning("cannot adopt an orphaned task; the next reconcile retries", metadata: [
                    LogKey.taskID: "\(record.taskId)", LogKey.error: "\(error)"])
                return
            }
        }
    }
}
