// swift-tools-version:6.0
// Dev-only libFuzzer harness for readiness-probe's hand-written parsers (see docs/reliability.md).
// Not part of the shipped product: the root package never sees this folder. Build and run with
// `Tests/Fuzz/fuzz.sh SECONDS` (or `make fuzz`), which passes `-sanitize=fuzzer,address`.
import PackageDescription

// SwiftPM names a path dependency after its folder, and the root package's folder is whatever the
// checkout is called; derive it from this manifest's own location (<root>/Tests/Fuzz/Package.swift).
let rootFolder = String(#filePath.split(separator: "/").dropLast(3).last ?? "readiness-probe")
let root = rootFolder.lowercased()

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
        // One libFuzzer executable for every parser: FUZZ_TARGET=<name> picks a body of FuzzTargets.all
        // (the one list of targets; `fuzz --list` prints it, fuzz.sh reads it from there).
        .executableTarget(name: "fuzz", dependencies: ["FuzzTargets"], path: "Entry"),
    ],
    swiftLanguageModes: [.v6]
)
