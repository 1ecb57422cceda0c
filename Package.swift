// swift-tools-version:6.0
// readiness-probe: a readiness framework for containers whose processes run under supervisord.
// Toolchain only: this package has no package dependencies (see docs/architecture.md).
import PackageDescription

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "ReadinessProbe",
    products: [
        .executable(name: "readiness-probe", targets: ["readiness-probe"]),
        // The plugin kit is ReadinessProbe; a check also uses ProbeSupport's config and time types
        // (ConfigError, INISection, Deadline) and, to run a process, ProbeSpawn's ProcessSpec.
        .library(name: "ReadinessProbe", targets: ["ReadinessProbe", "ProbeSupport", "ProbeSpawn"]),
        .library(name: "SupervisorKit", targets: ["SupervisorKit"]),
    ],
    targets: [
        // The only C in the package: _GNU_SOURCE wrappers Swift's Glibc module lacks.
        .target(name: "CShim"),
        // All libc contact (Platform), durations, deadlines, INI, JSON.
        .target(name: "ProbeSupport", dependencies: ["CShim"], swiftSettings: strict),
        // Process spawning: one poll loop, process groups, bounded capture.
        .target(name: "ProbeSpawn", dependencies: ["ProbeSupport", "CShim"], swiftSettings: strict),
        // HTTP/1.1: message parsing, a client (unix and TCP), a small server.
        .target(name: "ProbeHTTP", dependencies: ["ProbeSupport", "CShim"], swiftSettings: strict),
        // HTTP/2 (frames, HPACK with Huffman, flow control), a gRPC server over h2c, protobuf for grpc.health.v1.
        .target(name: "ProbeHTTP2", dependencies: ["ProbeSupport", "ProbeHTTP", "CShim"], swiftSettings: strict),
        // supervisord's protocols: XML-RPC, `supervisorctl status`, event listener framing.
        .target(name: "SupervisorKit", dependencies: ["ProbeSupport", "ProbeHTTP"], swiftSettings: strict),
        // Application pid/error state, compatible with the `liveness` Python module.
        .target(name: "ProbeState", dependencies: ["ProbeSupport"], swiftSettings: strict),
        // The runner, results, checks, config, rendering and commands.
        .target(
            name: "ReadinessProbe",
            dependencies: ["ProbeSupport", "ProbeSpawn", "ProbeHTTP", "ProbeHTTP2", "SupervisorKit", "ProbeState", "CShim"],
            swiftSettings: strict),
        // link-order.txt: the release link's hot functions (Makefile, `make link-order`).
        .executableTarget(
            name: "readiness-probe", dependencies: ["ReadinessProbe"], exclude: ["link-order.txt"], swiftSettings: strict),
        // Test-only helpers (temporary folders, a real supervisord harness); never linked into the binary.
        .target(name: "ProbeTestSupport", dependencies: ["ProbeSupport", "CShim"], swiftSettings: strict),

        // Tests come in two kinds (docs/testing.md). Unit tests (*Tests): parsers, rules and models in this
        // process; no child process, socket or supervisord; they run in parallel (`make unit`). End-to-end
        // tests (*EndToEndTests): the binary, hooks, real supervisord, sockets and servers; they run one at a
        // time (`make end-to-end`). `make test` runs both. Every target lists exactly the modules its files import
        // (PackageManifestTests checks it).
        .testTarget(name: "ProbeSupportTests", dependencies: ["ProbeTestSupport", "ProbeSupport"]),
        .testTarget(name: "ProbeHTTPTests", dependencies: ["ProbeTestSupport", "ProbeHTTP"]),
        .testTarget(name: "ProbeHTTP2Tests", dependencies: ["ProbeTestSupport", "ProbeHTTP2"]),
        .testTarget(name: "SupervisorKitTests", dependencies: ["ProbeTestSupport", "SupervisorKit", "ProbeHTTP", "ProbeSupport"]),
        .testTarget(name: "ProbeStateTests", dependencies: ["ProbeTestSupport", "ProbeState", "ProbeSupport"]),
        .testTarget(name: "ReadinessProbeTests", dependencies: ["ProbeTestSupport", "ReadinessProbe", "SupervisorKit", "ProbeHTTP", "ProbeHTTP2", "ProbeSupport", "ProbeSpawn", "ProbeState"]),

        .testTarget(name: "ProbeSpawnEndToEndTests", dependencies: ["ProbeTestSupport", "ProbeSpawn", "ProbeSupport"]),
        .testTarget(name: "ProbeHTTPEndToEndTests", dependencies: ["ProbeTestSupport", "ProbeHTTP", "ProbeSupport", "CShim"]),
        .testTarget(name: "ProbeHTTP2EndToEndTests", dependencies: ["ProbeTestSupport", "ProbeHTTP2", "ProbeSupport"]),
        .testTarget(name: "SupervisorKitEndToEndTests", dependencies: ["ProbeTestSupport", "SupervisorKit", "ProbeHTTP", "ProbeSupport"]),
        .testTarget(name: "ProbeStateEndToEndTests", dependencies: ["ProbeTestSupport", "ProbeState", "ProbeSupport"]),
        .testTarget(name: "ReadinessProbeEndToEndTests", dependencies: ["ProbeTestSupport", "ReadinessProbe", "SupervisorKit", "ProbeHTTP", "ProbeSupport", "ProbeSpawn"]),
    ],
    swiftLanguageModes: [.v6]
)
