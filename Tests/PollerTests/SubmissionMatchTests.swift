import Testing
@testable import Common

/// Settling a create whose answer was lost: which listed task is it?
@Suite("settling a lost create answer")
struct SubmissionMatchTests {
    let tolerance = SubmissionMatch.tolerance(submissionsPerSecond: 2)  // 238 ms

    @Test("the one unknown task between our neighbouring sends is it, whatever the clocks' offset")
    func byOrder() {
        // Our sends at 10.0 s and 11.0 s are listed 1.3 s later (a slow DashScope, a shifted clock);
        // the lost one went out at 10.5 s.
        let listed: [String: Int64] = ["a": 11_300, "lost": 11_800, "b": 12_300, "other-app-later": 20_000]
        let match = SubmissionMatch.match(sentAtEpochMs: 10_500, listed: listed, ourSends: ["a": 10_000, "b": 11_000],
                                          known: ["a", "b"], tolerance: tolerance)
        #expect(match == .found(taskId: "lost"))
    }

    @Test("nothing unknown between the neighbours: DashScope created nothing")
    func none() {
        let match = SubmissionMatch.match(sentAtEpochMs: 10_500, listed: ["a": 10_010, "b": 11_010, "far": 30_000],
                                          ourSends: ["a": 10_000, "b": 11_000], known: ["a", "b"], tolerance: tolerance)
        #expect(match == .none)
    }

    @Test("another application submitted in between: the one at the expected time, if it is alone there; else ambiguous")
    func crowded() {
        let listed: [String: Int64] = ["a": 10_010, "theirs": 10_200, "lost": 10_512, "b": 11_010]
        #expect(SubmissionMatch.match(sentAtEpochMs: 10_500, listed: listed, ourSends: ["a": 10_000, "b": 11_000], known: ["a", "b"],
                                      tolerance: tolerance) == .found(taskId: "lost"))
        let close: [String: Int64] = ["a": 10_010, "theirs": 10_600, "lost": 10_512, "b": 11_010]
        #expect(SubmissionMatch.match(sentAtEpochMs: 10_500, listed: close, ourSends: ["a": 10_000, "b": 11_000], known: ["a", "b"],
                                      tolerance: tolerance) == .ambiguous(candidates: ["lost", "theirs"]))
    }

    @Test("no neighbours in the window (a quiet account): the one unknown task of the window; known rows are never candidates")
    func quiet() {
        #expect(SubmissionMatch.match(sentAtEpochMs: 10_500, listed: ["lost": 10_530, "mine-old": 9_000], ourSends: [:],
                                      known: ["mine-old"], tolerance: tolerance) == .found(taskId: "lost"))
        #expect(SubmissionMatch.tolerance(submissionsPerSecond: 0) == .seconds(1))
    }
}
