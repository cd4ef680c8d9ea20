import Metrics
import Prometheus

/// Bootstraps swift-metrics with a Prometheus registry (only `@main` calls this); the registry
/// renders the text exposition served at `/metrics`.
public enum MetricsSetup {
    public static func bootstrap() -> PrometheusRegistryView {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Seconds from 5 ms to 60 s covers a DashScope call, a commit and a detection delay alike.
        factory.defaultDurationHistogramBuckets = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                   .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                                   .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]
        factory.valueHistogramBuckets = [OutpaintingMetrics.batchSizeName: [1, 5, 10, 25, 50, 100, 250, 500, 1000]]
        MetricsSystem.bootstrap(factory)
        return PrometheusRegistryView(registry: registry)
    }
}

/// The Prometheus text of every metric so far.
public struct PrometheusRegistryView: Sendable {
    let registry: PrometheusCollectorRegistry

    public func render() -> [UInt8] { registry.emitToBuffer() }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
