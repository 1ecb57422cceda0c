// The binary's command line: --help everywhere, argument errors, `validate` and `codes` (the in-process
// halves of these suites are in ReadinessProbeTests: ConfigTests, CLITests, CodesTests).
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport

@Suite struct CLICommandTests {
    @Test func binaryPrintsTheSameTable() throws {
        let r = Command.run([TestPaths.binary, "codes"])
        #expect(r.status == 0)
        #expect(r.stdout == (try Platform.readTextFile(TestPaths.packageRoot + "/docs/codes.md")))
        let j = Command.run([TestPaths.binary, "codes", "--format", "json"])
        let v = try JSON.parse(j.stdout)
        #expect(v["schema"]?.stringValue == "readiness-probe/codes/1")
        let rows = v["codes"]?.arrayValue ?? []
        #expect(rows.count == Codes.table.count)
        // Numbers are numbers: the 16-254 row is from 16 to 254, labelled as the table shows it.
        #expect(rows.last?["from"]?.intValue == 16 && rows.last?["to"]?.intValue == 254 && rows.last?["label"]?.stringValue == "16-254")
        #expect(rows.first?["from"]?.intValue == 0 && rows.first?["label"]?.stringValue == "0")
    }

    @Test func helpEverywhere() {
        for cmd in [[], ["run"], ["codes"], ["checks"], ["validate"], ["listen"], ["serve"], ["wait"], ["report"],
                    ["state", "load"], ["state", "set"], ["state", "reset"], ["state", "show"]] {
            let r = Command.run([TestPaths.binary] + cmd + ["--help"])
            #expect(r.status == 0, "\(cmd)")
            #expect(r.stdout.contains("Usage: readiness-probe"), "\(cmd)")
        }
        let v = Command.run([TestPaths.binary, "--version"])
        #expect(v.status == 0 && v.stdout.hasPrefix("readiness-probe "))
    }

    @Test func argumentErrorsAreCode8WithUsage() throws {
        // A config with a rundir of its own: these end at the arguments, but never write the machine's /run.
        let dir = TempDir("args")
        let env = ["READINESS_PROBE_CONFIG": try RundirGuard.ownConfig(dir)]
        for args in [["run", "--bogus"], ["run", "--format", "xml"], ["run", "--timeout", "soon"], ["nosuch"],
                     ["run", "--timeout"], ["codes", "extra"]] {
            let r = Command.run([TestPaths.binary] + args, environment: env)
            #expect(r.status == 8, "\(args)")
            #expect(r.stderr.contains("Usage:") || r.stderr.contains("usage"), "\(args): \(r.stderr)")
        }
    }

    @Test func validateCommandExits8WithFileLine() throws {
        let dir = TempDir("cfg")
        let path = try dir.write("rp.conf", "[probe]\ntimeout = soon\n")
        let r = Command.run([TestPaths.binary, "validate", "--config", path])
        #expect(r.status == 8)
        #expect(r.stderr.contains("\(path):2:"))
        let ok = try dir.write("ok.conf", "[probe]\ntimeout = 2s\n")
        let r2 = Command.run([TestPaths.binary, "validate", "--config", ok])
        #expect(r2.status == 0, "\(r2.stderr)")
        let r3 = Command.run([TestPaths.binary, "validate"], environment: ["READINESS_PROBE_CONFIG": path])
        #expect(r3.status == 8)
    }
}
