// Application state through the real binary: the CLI round trip, the [state:UNIT] check,
// hooks/health.sh, and write errors.
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import Glibc

@Suite struct StateCommandTests {
    func state(_ dir: TempDir, _ args: [String]) -> CommandResult {
        let (opts, rest) = args.firstIndex(of: "--").map { (Array(args[..<$0]), Array(args[$0...])) } ?? (args, [])
        return Command.run([TestPaths.binary, "state"] + opts + ["--unit", "app", "--rundir", dir.path] + rest)
    }

    @Test func roundTrip() throws {
        let dir = TempDir("state")
        #expect(state(dir, ["show"]).status == 5)
        let load = state(dir, ["load"])
        #expect(load.status == 0, "\(load.stderr)")
        // The default pid is the caller's: here the test process, which is alive.
        #expect(try Platform.readTextFile(dir.file("app/pid")) == String(Platform.processID))
        #expect(state(dir, ["set", "3"]).status == 0)
        let bad = state(dir, ["show"])
        #expect(bad.status == 5)
        #expect(bad.stdout == "app: unhealthy: error is \"3\"\n")
        #expect(state(dir, ["set", "0"]).status == 0)
        #expect(try Platform.readTextFile(dir.file("app/error")) == "0")
        let good = state(dir, ["show", "--format", "json"])
        #expect(good.status == 0)
        let v = try JSON.parse(good.stdout)
        #expect(v["healthy"] == .bool(true))
        #expect(state(dir, ["reset"]).status == 0)
        #expect(!Platform.exists(dir.file("app/pid")))
        #expect(state(dir, ["show"]).status == 5)
        #expect(state(dir, ["set", "-1"]).status == 0)
        #expect(state(dir, ["set", "abc"]).status == 8)
    }

    @Test func loadRunsTheCheckCommandFirst() throws {
        let dir = TempDir("state")
        let r = state(dir, ["load", "--", "/bin/sh", "-c", "echo db down; exit 3"])
        #expect(r.status == 5)
        #expect(r.stderr.contains("db down"))
        #expect(!Platform.exists(dir.file("app/pid")))
        #expect(state(dir, ["load", "--pid", "1", "--", "/bin/true"]).status == 0)
        #expect(try Platform.readTextFile(dir.file("app/pid")) == "1")
    }

    @Test func unwritableRundirNamesThePath() throws {
        let dir = TempDir("state")
        try dir.write("file", "x")
        let r = Command.run([TestPaths.binary, "state", "set", "0", "--unit", "app", "--rundir", dir.file("file")])
        #expect(r.status == Codes.systemError)   // not "hook failed": the probe could not write
        #expect(r.stderr.contains(dir.file("file")), "\(r.stderr)")
    }

    @Test func stateSectionsInTheProbe() throws {
        let dir = TempDir("state")
        // Written exactly as the liveness module writes them: no trailing newline.
        try dir.write("run/web/pid", String(Platform.processID))
        try dir.write("run/web/error", "0")
        try dir.write("run/db/pid", String(Platform.processID))
        try dir.write("run/db/error", "abc")
        let conf = try stateOnlyConfig(dir, units: ["web", "db"])
        let r = Command.run([TestPaths.binary, "run", "--config", conf, "--format", "json"])
        #expect(r.status == 5)
        let v = try JSON.parse(r.stdout)
        #expect(v.check("state:web")?.status == "pass")
        #expect(v.check("state:db")?.detail == "db: error is \"abc\"")
        #expect(v["summary"]?.stringValue == "state:db: db: error-not-a-number")
    }

    @Test func healthScriptUsesTheRealBinary() throws {
        let dir = TempDir("state")
        let script = TestPaths.packageRoot + "/hooks/health.sh"
        let env = ["READINESS_PROBE": TestPaths.binary, "CIC_RUNDIR": dir.path, "CIC_UNIT": "app"]
        let missing = Command.run([script], environment: env)
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("health app: unhealthy: no pid file"), "\(missing.stderr)")
        try dir.write("app/pid", String(Platform.processID))
        try dir.write("app/error", "-1")
        let minusOne = Command.run([script], environment: env)
        #expect(minusOne.status == 1)   // the old script said healthy here
        #expect(minusOne.stderr == "health app: unhealthy: error is \"-1\"\n")
        try dir.write("app/error", "0")
        let ok = Command.run([script], environment: env)
        #expect(ok.status == 0)
        #expect(ok.stderr == "health app: process \(Platform.processID) is running, error is 0\n")
    }
}

/// Whether this test process may mount a tmpfs (root in a sandbox that allows it).
let canMountTmpfs: Bool = {
    let dir = TempDir("mnt")
    let r = Command.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", dir.path])
    if r.status == 0 { _ = Command.run(["umount", "-l", dir.path]) }
    return r.status == 0
}()

/// rundir read-only, missing and full: each a clear message naming the path, never a crash.
@Suite struct RundirFaultTests {
    /// Mounts a small tmpfs (root only); nil with a reason when mounting is not allowed.
    func mountTmpfs(_ dir: TempDir, _ options: String) -> String? {
        let point = dir.file("mnt")
        try? Platform.makeDirectories(point)
        let r = Command.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", point])
        return r.status == 0 ? point : nil
    }

    func umount(_ point: String) { _ = Command.run(["umount", "-l", point]) }

    @Test func missingRundirIsCreated() throws {
        let dir = TempDir("rund")
        let r = Command.run([TestPaths.binary, "state", "set", "0", "--unit", "app", "--rundir", dir.file("a/b/c")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Platform.readTextFile(dir.file("a/b/c/app/error")) == "0")
    }

    @Test(.enabled(if: canMountTmpfs, "needs permission to mount a tmpfs (root)"))
    func readOnlyRundir() throws {
        let dir = TempDir("rund")
        let point = try #require(mountTmpfs(dir, "ro,size=64k"))
        defer { umount(point) }
        let r = Command.run([TestPaths.binary, "state", "set", "0", "--unit", "app", "--rundir", point])
        #expect(r.status == Codes.systemError)   // not "hook failed": the probe could not write
        #expect(r.stderr.contains(point) && r.stderr.contains("Read-only file system"), "\(r.stderr)")
    }

    @Test(.enabled(if: canMountTmpfs, "needs permission to mount a tmpfs (root)"))
    func fullRundir() throws {
        let dir = TempDir("rund")
        let point = try #require(mountTmpfs(dir, "size=8k,nr_inodes=64"))
        defer { umount(point) }
        // Fill it: state folder first, then a filler file takes every block.
        #expect(Command.run([TestPaths.binary, "state", "set", "0", "--unit", "app", "--rundir", point]).status == 0)
        _ = Command.run(["/bin/sh", "-c", "cat /dev/zero > \(point)/filler"])
        let r = Command.run([TestPaths.binary, "state", "set", "12345", "--unit", "app", "--rundir", point])
        #expect(r.status == Codes.systemError)   // not "hook failed": the probe could not write
        #expect(r.stderr.contains("No space left on device"), "\(r.stderr)")
        #expect(r.stderr.contains(point + "/app/error"), "\(r.stderr)")
        // The old value is intact: atomic writes lose nothing.
        #expect(try Platform.readTextFile(point + "/app/error") == "0")
    }
}
