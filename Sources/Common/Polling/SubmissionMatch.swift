/// Finds, in DashScope's list, the task a submission whose answer was lost created — pure, so the
/// rule is unit-tested.
///
/// Submissions are paced account-wide, one after the other (≥ 0.53 s apart at 2/s), so DashScope
/// receives ours in the order we sent them. The lost one lies between our neighbouring sends whose
/// tasks we know (the one before and the one after, by our send time), so its task is listed
/// between theirs (by `gmt_create`, DashScope's clock): order, not clocks, does the matching, and a
/// shifted clock or a slow network changes nothing.
/// - exactly one task we do not know between the neighbours: found;
/// - none there: DashScope created nothing (once the window has closed);
/// - several (another application of the same account submitted in between): the one within
///   `tolerance` of the expected time (our send time plus the neighbours' clock offset), if it is
///   the only one; else ambiguous — left unsettled rather than guessed, so the user is never
///   charged twice.
public enum SubmissionMatch: Sendable, Equatable {
    case found(taskId: String)
    case none
    case ambiguous(candidates: [String])

    /// - Parameters:
    ///   - sentAtEpochMs: our send time of the lost one.
    ///   - listed: tasks of the window as the list shows them: id → gmt_create (epoch ms).
    ///   - ourSends: our known tasks in the window with their send times.
    ///   - known: every listed task we have a row for (never a candidate).
    ///   - tolerance: half the pacing spacing.
    public static func match(sentAtEpochMs sentAt: Int64, listed: [String: Int64], ourSends: [String: Int64], known: Set<String>,
                             tolerance: Duration) -> SubmissionMatch {
        // Our known sends that DashScope lists, by send time.
        let neighbours = ourSends.compactMap { id, sent in listed[id].map { (sent: sent, gmt: $0) } }
        let before = neighbours.filter { $0.sent < sentAt }.max { $0.sent < $1.sent }
        let after = neighbours.filter { $0.sent > sentAt }.min { $0.sent < $1.sent }
        let unknown = listed.filter { !known.contains($0.key) && ourSends[$0.key] == nil }
        let between = unknown.filter { entry in
            (before.map { $0.gmt < entry.value } ?? true) && (after.map { entry.value < $0.gmt } ?? true)
        }.sorted { $0.value < $1.value }
        switch between.count {
        case 0: return .none
        case 1: return .found(taskId: between[0].key)
        default:
            let offsets = [before, after].compactMap { $0 }.map { $0.gmt - $0.sent }
            let expected = sentAt + (offsets.isEmpty ? 0 : offsets.reduce(0, +) / Int64(offsets.count))
            let near = between.filter { abs($0.value - expected) <= tolerance.milliseconds }
            return near.count == 1 ? .found(taskId: near[0].key) : .ambiguous(candidates: between.map(\.key))
        }
    }

    /// Half the spacing of paced submissions at `submissionsPerSecond` (at least 100 ms; 1 s unpaced).
    public static func tolerance(submissionsPerSecond: Double) -> Duration {
        guard submissionsPerSecond > 0 else { return .seconds(1) }
        return .milliseconds(max(100, Int64(500 / (submissionsPerSecond * 1.05))))
    }
}
