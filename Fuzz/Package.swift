// swift-tools-version:6.1
// libFuzzer targets for the parsers that read untrusted bytes. Not part of `make test`:
// `make fuzz` builds this package with -sanitize=fuzzer,address and runs it for a bounded time.
import PackageDescription

let package = Package(
    name: "outpainting-fuzz",
    dependencies: [.package(name: "outpainting", path: "..")],
    targets: [
        .executableTarget(
            name: "RequestParsingFuzzer",
            dependencies: [.product(name: "OutpaintingCommon", package: "outpainting")],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
