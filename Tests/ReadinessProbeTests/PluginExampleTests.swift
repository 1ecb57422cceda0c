// The example plugin from docs/plugins.md, compiled and tested here so the docs stay true.
import Testing
import ProbeTestSupport

// --- docs/plugins.md: begin ---
import Glibc
import ProbeSupport      // ConfigError, INISection, Deadline: the config and time types
import ReadinessProbe    // the plugin kit: Check, CheckKind, CheckRegistry, ProbeRunner, ...

/// `[disk:NAME]` with `path` and `min_free_percent`: fails with code 30 when the file
/// system holding `path` has less free space than asked.
struct DiskCheck: Check {
    var path: String
    var minFreePercent: Double

    static let kind = CheckKind(
        section: "disk", resultKind: "disk", order: 35, instance: .required,
        keys: ["path", "min_free_percent"], codes: [0, 30],
        about: "free space on a file system",
        make: { (input) throws(ConfigError) -> [CheckEntry] in
            try input.sections.map { (s) throws(ConfigError) -> CheckEntry in
                guard let path = s["path"] else { throw ConfigError("[\(s.name)] needs path", at: s.location) }
                let min = s.entry("min_free_percent").map { Double($0.value) ?? -1 } ?? 5
                if !(0...100).contains(min) {
                    throw ConfigError("min_free_percent must be 0-100", at: s.entry("min_free_percent")?.location)
                }
                let common = try CommonCheckOptions(s)
                return CheckEntry(name: s.instance!, kind: "disk", severity: common.severity, timeout: common.timeout,
                                  origin: s.location.description, check: DiskCheck(path: path, minFreePercent: min))
            }
        })

    func check(_ context: CheckContext) async -> CheckOutcome {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return .fail(30, "cannot stat \(path)") }
        let free = 100 * Double(st.f_bavail) / Double(max(st.f_blocks, 1))
        let text = "\(Int(free))% free on \(path)"
        return free >= minFreePercent ? .pass(text) : .fail(30, text, summary: "low disk space on \(path)")
    }
}

func runWithDiskPlugin(configPath: String) async throws -> ProbeReport {
    var registry = CheckRegistry.standard
    registry.register(DiskCheck.kind)
    let config = try ProbeConfiguration.load(explicitPath: configPath, environment: [:], registry: registry)
    return await ProbeRunner.run(config.entries, settings: config.settings)
}

/// Your own probe binary: its main.swift is this function's body. Every command (`run`,
/// `wait`, `serve`, `listen`, `checks`, `validate`...) then knows `[disk:NAME]`.
func probeMain() -> Never {
    var registry = CheckRegistry.standard
    registry.register(DiskCheck.kind)
    CLI.main(registry: registry)
}
// --- docs/plugins.md: end ---

@Suite struct PluginExampleTests {
    @Test func customKindRegistersAndRuns() async throws {
        let dir = TempDir("plug")
        // A long deadline: unit tests run in parallel, and a plugin check is a task that may wait for a thread.
        let path = try dir.write("rp.conf", """
        [probe]
        timeout = 60s
        hooks_dir =
        sonic_hook =
        [start]
        program =
        [disk:root]
        path = /
        min_free_percent = 0
        [disk:impossible]
        path = /
        min_free_percent = 100
        severity = warn
        """)
        let report = try await runWithDiskPlugin(configPath: path)
        #expect(report.results.map(\.name) == ["root", "impossible"])
        #expect(report.results[0].status == .pass)
        #expect(report.results[1].status == .warn && report.results[1].code == 30)
        #expect(report.code == 0)
    }

    @Test func docsShowTheTestedCode() throws {
        let doc = try Platform.readTextFile(TestPaths.packageRoot + "/docs/plugins.md")
        let me = try Platform.readTextFile(#filePath)
        let begin = me.firstRange(of: "// --- docs/plugins.md: begin ---\n")!.upperBound
        let end = me.firstRange(of: "// --- docs/plugins.md: end ---")!.lowerBound
        #expect(doc.contains(String(me[begin..<end])), "docs/plugins.md must show the example exactly as tested")
    }
}
