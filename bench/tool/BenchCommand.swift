import ArgumentParser
import Common

/// `outpainting-bench`: tools for `make bench` only — the original Java design reproduced as a
/// baseline (same C libraries, so only the design differs), and load generators. Never installed,
/// never a mode of the product.
// Async root (the baseline responder awaits a graceful shutdown); the synchronous subcommands then
// run on the main thread, which is not part of Swift's cooperative pool.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outpainting-bench",
        abstract: "Benchmark tools: the original design as a baseline, task seeding, the simulated site load.",
        subcommands: [BaselineConsumerCommand.self, BaselineResponderCommand.self, SDKWaiterCommand.self, SeedCommand.self,
                      SiteLoadCommand.self])
}
