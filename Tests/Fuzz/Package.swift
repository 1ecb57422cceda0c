// swift-tools-version:6.0
// Dev-only libFuzzer harness for readiness-probe's hand-written parsers (see docs/reliability.md).
// Not part of the shipped product: the root package never sees this folder. Build and run with
// `Tests/Fuzz/fuzz.sh SECONDS` (or `make fuzz`), which passes `-sanitize=fuzzer,address`.
import PackageDescription

// SwiftPM names a path dependency after its folder, and the root package's folder is whatever the
// checkout is called; derive it from this manifest's own location (<root>/Tests/Fuzz/Package.swift).
let rootFolder = String(#filePath.split(separator: "/").dropLast(3).last ?? "readiness-probe")
let root = rootFolder.lowercased()

/// One libFuzzer executable per parser; each is a two-line shim over a body in FuzzTargets.
let targets = ["xmlrpc", "http-response", "http-request", "status", "events", "ini", "state", "duration", "args", "json",
               "h2-frames", "hpack", "protobuf", "notify"]

let package = Package(
    name: "ReadinessProbeFuzz",
    dependencies: [.package(path: "../..")],
    targets: [
        .target(
            name: "FuzzTargets",
            dependencies: [
                .product(name: "ReadinessProbe", package: root),
                .product(name: "SupervisorKit", package: root),
            ]),
    ] + targets.map { name in
        .executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzTargets"], path: "Entry/\(name)")
    },
    swiftLanguageModes: [.v6]
)
