import Foundation
import Synchronization
import Testing

/// A component of the local stack, as `scripts/probe.sh` names it.
enum Component: String, CaseIterable, Sendable {
    case mariadb, broker, devserver, nginx, fcgi, fcgiTrusted = "fcgi-trusted", poller
}

/// A component did not become ready within its deadline.
struct ComponentNotReady: Error, CustomStringConvertible {
    let component: Component
    /// The probe's last word: "mariadb not ready after 90s: SELECT 1: ERROR 2002 …".
    let reason: String
    var description: String { reason }
}

/// Readiness waits through `scripts/probe.sh`, the definition `stack.sh` and the supervisor use, so
/// the tests wait for exactly what the stack calls ready, within each component's own deadline.
///
/// A component given up on is remembered: later waits ask once and fail at once with the same
/// reason, so a component that never comes back fails the first test that needs it (after its
/// deadline) and every later one in a moment, each naming it, instead of each waiting again.
final class Readiness: Sendable {
    static let shared = Readiness()

    private let givenUp = Mutex<[Component: String]>([:])

    /// Waits until every component in `components` is ready (probed in parallel).
    func require(_ components: [Component] = Component.allCases) throws(ComponentNotReady) {
        let remembered = givenUp.withLock { $0 }
        // The common case, in one process: everything is ready and nothing was given up on.
        if components.count == Component.allCases.count, remembered.isEmpty, Self.allReadyNow() { return }
        let outcomes = Self.probeAll(components.map { ($0, remembered[$0] == nil ? "wait" : "check") })
        var failure: ComponentNotReady?
        for (component, outcome) in zip(components, outcomes) {
            switch outcome {
            case .ready:
                givenUp.withLock { _ = $0.removeValue(forKey: component) }
            case .notReady(let reason):
                let text = remembered[component] == nil ? reason
                    : "\(reason) (still; an earlier test waited its whole deadline for it)"
                givenUp.withLock { $0[component] = $0[component] ?? reason }
                failure = failure ?? ComponentNotReady(component: component, reason: text)
            }
        }
        if let failure { throw failure }
    }

    private enum Outcome: Sendable { case ready, notReady(String) }

    private static func allReadyNow() -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "scripts/probe.sh")
        process.arguments = ["check-all"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    private static func probeAll(_ probes: [(Component, String)]) -> [Outcome] {
        let running = probes.map { component, verb -> (Process, Pipe)? in
            let process = Process(), output = Pipe()
            process.executableURL = URL(fileURLWithPath: "scripts/probe.sh")
            process.arguments = [verb, component.rawValue]
            process.standardOutput = output
            process.standardError = output
            do { try process.run() } catch { return nil }
            return (process, output)
        }
        return zip(probes, running).map { probe, started in
            guard let (process, output) = started else { return .notReady("\(probe.0.rawValue): scripts/probe.sh did not start") }
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            process.waitUntilExit()
            if process.terminationStatus == 0 { return .ready }
            return .notReady(text.hasPrefix(probe.0.rawValue) ? text : "\(probe.0.rawValue) not ready: \(text)")
        }
    }
}

/// Every integration test starts with the whole stack ready and must leave it ready: a fault test
/// that kills a component waits for it to come back before the next test runs, and a component
/// that does not come back is named by the test that broke it.
struct StackReadyTrait: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        do {
            try Readiness.shared.require()
        } catch {
            Issue.record("the stack is not ready before this test: \(error)")
            return
        }
        try await function()
        do {
            try Readiness.shared.require()
        } catch {
            Issue.record("this test left the stack unhealthy: \(error)")
        }
    }
}

extension Trait where Self == StackReadyTrait {
    /// The whole local stack is ready before and after each test (see `StackReadyTrait`).
    static var stackReady: Self { Self() }
}
