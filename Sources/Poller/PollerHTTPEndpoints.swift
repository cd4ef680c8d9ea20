import Common
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `GET /metrics` (Prometheus text) and `GET /healthz` for the Poller, on POLLER_METRICS_ADDRESS.
enum PollerHTTPEndpoints {
    /// The engine counts as stuck when its loop has not come round for this long (a round's
    /// queries and MySQL writes are each bounded well below it).
    static let stuckAfterMilliseconds: Int64 = 60_000

    static func application(address: (host: String, port: Int), metrics: PrometheusRegistryView, statistics: PollerStatistics,
                            logger: Logger) -> some Service {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: PrometheusRegistryView.contentType],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        router.get("/healthz") { _, _ in health(statistics) }
        return Application(router: router, configuration: .init(address: .hostname(address.host, port: address.port),
                                                                serverName: "outpainting-poller"),
                           logger: logger)
    }

    static func health(_ statistics: PollerStatistics) -> Response {
        let last = statistics.lastIterationEpochMs.load(ordering: .relaxed)
        let sinceMs = Int64(Date().timeIntervalSince1970 * 1000) - last
        let healthy = last > 0 && sinceMs < stuckAfterMilliseconds
        let body = JSONValue.object([
            ("status", .string(healthy ? "ok" : (last == 0 ? "starting" : "stuck"))),
            ("last_loop_ms_ago", last > 0 ? .int(sinceMs) : .null),
            ("partitions", .int(Int64(statistics.partitions.load(ordering: .relaxed)))),
            ("followed", .int(Int64(statistics.followed.load(ordering: .relaxed)))),
            ("sweeper", .bool(statistics.sweeperHolding.load(ordering: .relaxed))),
            ("sweeps", .int(Int64(statistics.sweeps.load(ordering: .relaxed)))),
        ]).serialized
        return Response(status: healthy ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
