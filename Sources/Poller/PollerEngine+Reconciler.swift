import Common
import Foundation
import Logging

extension PollerEngine {
    /// Re-enqueues tasks no consumer follows: their produce failed at create time, the broker lost
    /// their message, or their partition's owner stopped checking them. Several reconcilers may
    /// run; the `requeueTime` lease lets one of them re-enqueue a task per lease period, and a
    /// duplicate message would only claim the task again.
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
        for record in orphans where !tracker.isFollowing(record.taskId) {
            do {
                guard try database.with({ try TaskRepository.leaseRequeue($0, taskId: record.taskId, leaseSeconds: lease) }) else {
                    continue
                }
                let message = OutPaintingTaskMessage(taskId: record.taskId, pictureId: record.pictureId, userId: record.userId,
                                                     createTime: record.createdAtEpochMilliseconds, retryCount: record.retryCount)
                _ = try producer.send(topic: config.topic, key: record.taskId, value: message.encoded, timeout: config.ackTimeout)
                statistics.requeued.add(1, ordering: .relaxed)
                logger.info("re-enqueued an orphaned task", metadata: [LogKey.taskID: "\(record.taskId)",
                                                                      "claimed": "\(record.pollerPartition != nil)"])
            } catch {
                logger.warning("cannot re-enqueue an orphaned task; the next reconcile retries", metadata: [
                    LogKey.taskID: "\(record.taskId)", LogKey.error: "\(error)"])
                return
            }
        }
    }
}
