// The flight recorder (docs/history.md): the record format, the writers' diff, the file under
// concurrent and killed writers, bad files, and the `history` command.
@preconcurrency import Glibc
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport

/// A rundir with a `[state:web]` check whose error file the test flips, so every `run` that sees
/// a flip appends records.
final class HistoryRig: @unchecked Sendable {
    let work = TempDir("hist")
    let conf: String
    var folder: String { work.path + "/run/readiness-probe" }
    var historyPath: String { folder + "/history" }

    init(extra: String = "") throws {
        _ = try work.write("run/web/pid", "\(getpid())\n")
        _ = try work.write("run/web/error", "0\n")
        conf = try work.write("probe.conf", "[probe]\nrundir = \(work.path)/run\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[state:web]\n\(extra)\n")
    }

    func setError(_ code: Int) throws { _ = try work.write("run/web/error", "\(code)\n") }
    func run(_ args: [String]) -> CommandResult { Command.run([TestPaths.binary] + args + ["--config", conf]) }
    func history(_ args: [String] = []) -> CommandResult { Command.run([TestPaths.binary, "history"] + args + ["--config", conf]) }
    func lines() -> [String] {
        ((try? Platform.readTextFile(historyPath, limit: 64 << 20)) ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}

@Suite struct HistoryConfigTests {
    @Test func configKeys() throws {
        let rig = try HistoryRig(extra: "[history]\nenabled = false\n")
        _ = rig.run([])
        #expect(!Platform.exists(rig.historyPath))
        let bad = try HistoryRig(extra: "[history]\nmax_size = 1KiB\n")
        let r = bad.run([])
        #expect(r.status == 8)
        #expect(r.stderr.contains("max_size must be a size from 16KiB to 64MiB"))
    }
}

@Suite(.serialized) struct HistoryFileTests {
    @Test func runAppendsOnlyChangesAndHistoryShowsThem() throws {
        let rig = try HistoryRig()
        #expect(rig.run([]).status == 0)
        #expect(rig.run([]).status == 0)
        #expect(rig.lines().filter { !$0.isEmpty }.count == 2)  // web new -> 0, overall new -> 0; the second run changed nothing
        try rig.setError(3)
        #expect(rig.run([]).status == 5)
        #expect(rig.run(["--only", "state:web"]).status == 5)   // a partial run records nothing
        try rig.setError(0)
        #expect(rig.run([]).status == 0)
        let json = rig.history(["--format", "json"])
        #expect(json.status == 0)
        let v = try JSON.parse(json.stdout)
        let records = try #require(v["records"]?.arrayValue)
        let summary = records.map { "\($0["check"]?.stringValue ?? "?"):\($0["from"]?.intValue.map(String.init) ?? "null")->\($0["to"]?.intValue ?? -1)" }
        #expect(summary == ["state:web:null->0", ":null->0", "state:web:0->5", ":0->5", "state:web:5->0", ":5->0"])
        let at = try #require(records.first?["at"]?.stringValue)
        #expect(at.count == 24 && at.hasSuffix("Z") && RFC3339.parse(at) != nil)
        #expect(records.allSatisfy { $0["by"]?.stringValue == "run" && $0["codes"] == nil })
        let table = rig.history()
        #expect(table.status == 0)
        #expect(table.stdout.contains("not ready (code 5) for "))
        #expect(table.stdout.contains("ready for ") && table.stdout.contains(" so far: "))
        #expect(rig.history(["--check", "state:web", "--format", "json"]).stdout.split(separator: "\"check\": \"state:web\"", omittingEmptySubsequences: false).count == 4)
        #expect(rig.history(["--since", "2999-01-01T00:00:00Z", "--format", "json"]).stdout == "{\"schema\": \"readiness-probe/history/2\", \"records\": []}\n")
        #expect(rig.history(["--since", "soon"]).status == 8)
    }

    @Test func aTornOrCorruptedRecordIsSkippedWithAWarningAndNeverSpreads() throws {
        let rig = try HistoryRig()
        #expect(rig.run([]).status == 0)
        // A writer killed mid-write: half a record, no newline.
        var partial = HistoryRecord(at: Platform.epochSeconds(), by: "run", check: "web", from: 0, to: 5, detail: "x").line
        partial.removeLast(partial.count / 2)
        let fd = open(rig.historyPath, O_WRONLY | O_APPEND)
        _ = partial.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        var r = rig.history(["--format", "json"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("skipped an incomplete last record"))
        #expect((try JSON.parse(r.stdout))["records"]?.arrayValue?.count == 2)
        // The next writer starts on a new line: its records are whole.
        try rig.setError(3)
        #expect(rig.run([]).status == 5)
        r = rig.history(["--format", "json"])
        #expect(r.stderr.contains("skipped 1 corrupted record"))
        #expect((try JSON.parse(r.stdout))["records"]?.arrayValue?.count == 4)
        // Garbage in the middle.
        let g = open(rig.historyPath, O_WRONLY | O_APPEND)
        _ = Array("\u{0}\u{ff}binary garbage\n{\"at\": 1}\n".utf8).withUnsafeBytes { write(g, $0.baseAddress!, $0.count) }
        close(g)
        try rig.setError(0)
        #expect(rig.run([]).status == 0)
        r = rig.history(["--format", "json"])
        #expect(r.stderr.contains("skipped 3 corrupted records"))
        let summary = try #require((try JSON.parse(r.stdout))["records"]?.arrayValue).map { "\($0["from"]?.intValue ?? -1)->\($0["to"]?.intValue ?? -1)" }
        #expect(summary.suffix(2) == ["5->0", "5->0"])  // the writer still found the last codes behind the garbage
    }

    @Test func theCapIsKept() throws {
        let rig = try HistoryRig(extra: "[history]\nmax_size = 16KiB\n")
        var last = 0
        for i in 0..<120 {
            try rig.setError(i % 2 == 0 ? 0 : 7)
            last = Int(rig.run([]).status)
            var st = stat()
            #expect(stat(rig.historyPath, &st) == 0 && st.st_size <= 16 << 10)
        }
        #expect(last == 5)
        let v = try JSON.parse(rig.history(["--format", "json"]).stdout)
        let records = try #require(v["records"]?.arrayValue)
        #expect(records.count > 20 && records.count < 120)
        #expect(records.last?["to"]?.intValue == 5)
        #expect(records.last?["from"]?.intValue == 0)  // the codes survived compaction
        var st = stat()
        #expect(stat(rig.historyPath, &st) == 0 && st.st_mode & 0o7777 == 0o644)
    }

    /// 50 writer processes at once (and writers SIGKILLed at random moments) while the state
    /// flips: every line is a whole record, each check's records chain (from == the previous
    /// to: no lost update between processes), and the cap holds.
    @Test func fiftyConcurrentWritersAndSIGKILLs() throws {
        let rig = try HistoryRig(extra: "[history]\nmax_size = 16KiB\n")
        // Nearly full already: the writers must compact (rename) while others wait for the lock.
        var filler: [UInt8] = []
        while filler.count < 15 << 10 {
            filler += HistoryRecord(at: 1, by: "test", check: "filler", from: 0, to: 0, detail: "x").line
        }
        _ = try rig.work.write("run/readiness-probe/history", String(decoding: filler, as: UTF8.self))
        var before = stat()
        #expect(stat(rig.historyPath, &before) == 0)
        let script = """
            B=\(TestPaths.binary); C=\(rig.conf); E=\(rig.work.path)/run/web/error; S=\(rig.work.path)/stop
            for i in $(seq 50); do (while [ ! -f $S ]; do $B run --config $C >/dev/null 2>&1; done) & done
            (n=0; while [ ! -f $S ]; do $B run --config $C >/dev/null 2>&1 & p=$!; sleep 0.00$((n % 7)); kill -9 $p 2>/dev/null; n=$((n+1)); done) &
            k=0; end=$((SECONDS + 5)); hard=$((SECONDS + 90)); H=\(rig.historyPath)
            while [ $SECONDS -lt $hard ]; do
              # at least 5 s, then until a writer has compacted the file (on a loaded machine the
              # 51 writers need longer than 5 s to append the 1 KiB that takes it past the cap)
              if [ $SECONDS -ge $end ] && [ "$(stat -c %i $H)" != "\(before.st_ino)" ]; then break; fi
              k=$((k+1)); echo $((k % 2 * 3)) > $E.tmp; mv $E.tmp $E; sleep 0.05
            done
            touch $S; wait
            """
        let r = Command.run(["bash", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = rig.lines()
        #expect(lines.last == "")
        var st = stat()
        #expect(stat(rig.historyPath, &st) == 0 && st.st_size <= 16 << 10)
        #expect(st.st_ino != before.st_ino)  // compacted at least once
        var records: [HistoryRecord] = []
        for l in lines.dropLast() { records.append(try #require(HistoryRecord(line: Array(l.utf8)[...]), "torn: \(l)")) }
        #expect(records.count > 20)
        for check in ["", "state:web"] {
            let mine = records.filter { $0.check == check }
            for (a, b) in zip(mine, mine.dropFirst()) { #expect(b.from == a.to, "\(check): \(a.to) then \(b.from.map(String.init) ?? "null")") }
        }
        let h = rig.history()
        #expect(h.status == 0 && h.stderr.isEmpty, "\(h.stderr)")
    }

    /// Someone holds the file's lock (any reader can flock it): the writer gives up that batch
    /// after its lock timeout with a clear error, and `run` still answers at once.
    @Test func aHeldLockLosesTheBatchButNeverHangs() throws {
        let rig = try HistoryRig()
        #expect(rig.run([]).status == 0)
        let fd = open(rig.historyPath, O_RDONLY)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        let file = HistoryFile(folder: rig.folder)
        let began = ContinuousClock.now
        #expect(throws: HistoryError.self) { try file.append { _ in [HistoryRecord(at: 1, by: "test", check: "x", from: nil, to: 1, detail: "")] } }
        #expect(ContinuousClock.now - began < .seconds(5))
        do { try file.append { _ in [] } } catch { #expect(error.message.contains("stayed locked for 250ms")) }
        try rig.setError(3)
        #expect(rig.run([]).status == 5)
        flock(fd, LOCK_UN)
        #expect(rig.run([]).status == 5)  // the change is recorded by the next probe
        let v = try JSON.parse(rig.history(["--format", "json"]).stdout)
        #expect(v["records"]?.arrayValue?.last?["to"]?.intValue == 5)
    }

    /// The history file is a FIFO, a symlink, a folder, another user's, writable by others, or
    /// garbage: `history` answers at once with the reason (exit 14, or a warning for garbage),
    /// `run` still answers, nothing is written through it.
    @Test func badFilesAreRefusedNeverTrustedNeverHang() throws {
        func fresh() throws -> HistoryRig {
            let rig = try HistoryRig()
            try Platform.makeDirectories(rig.folder)
            return rig
        }
        var rig = try fresh()
        #expect(mkfifo(rig.historyPath, 0o644) == 0)
        var r = rig.history()
        #expect(r.status == 14 && r.stderr.contains("is a FIFO, not a regular file"), "\(r.stderr)")
        #expect(rig.run([]).status == 0)

        rig = try fresh()
        let target = try rig.work.write("elsewhere", "")
        #expect(symlink(target, rig.historyPath) == 0)
        r = rig.history()
        #expect(r.status == 14 && r.stderr.contains("is a symbolic link"), "\(r.stderr)")
        #expect(rig.run([]).status == 0)
        #expect(try Platform.readTextFile(target).isEmpty)

        rig = try fresh()
        #expect(mkdir(rig.historyPath, 0o755) == 0)
        r = rig.history()
        #expect(r.status == 14 && r.stderr.contains("is a directory"), "\(r.stderr)")
        #expect(rig.run([]).status == 0)

        rig = try fresh()
        _ = try rig.work.write("run/readiness-probe/history", "", mode: 0o666)
        #expect(chmod(rig.historyPath, 0o666) == 0)
        r = rig.history()
        #expect(r.status == 14 && r.stderr.contains("is writable by others"), "\(r.stderr)")
        #expect(rig.run([]).status == 0)
        #expect(try Platform.readTextFile(rig.historyPath).isEmpty)

        if geteuid() == 0 {
            rig = try fresh()
            _ = try rig.work.write("run/readiness-probe/history", "")
            #expect(chown(rig.historyPath, 65534, 65534) == 0)
            r = rig.history()
            #expect(r.status == 14 && r.stderr.contains("is owned by uid 65534"), "\(r.stderr)")
            #expect(rig.run([]).status == 0)
            #expect(try Platform.readTextFile(rig.historyPath).isEmpty)
        }

        rig = try fresh()
        _ = try rig.work.write("run/readiness-probe/history", String(repeating: "garbage\n", count: 100) + "\u{1}\u{2}")
        r = rig.history(["--format", "json"])
        #expect(r.status == 0 && r.stdout == "{\"schema\": \"readiness-probe/history/2\", \"records\": []}\n")
        #expect(r.stderr.contains("skipped 100 corrupted records") && r.stderr.contains("incomplete last record"), "\(r.stderr)")
        #expect(rig.run([]).status == 0)
        #expect((try JSON.parse(rig.history(["--format", "json"]).stdout))["records"]?.arrayValue?.count == 2)

        // The folder itself a symlink: refused, nothing written through it.
        let other = TempDir("histother")
        let work = TempDir("histlink")
        _ = try work.write("run/web/pid", "\(getpid())\n")
        _ = try work.write("run/web/error", "0\n")
        #expect(symlink(other.path, work.path + "/run/readiness-probe") == 0)
        let conf = try work.write("probe.conf", "[probe]\nrundir = \(work.path)/run\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[state:web]\n")
        #expect(Command.run([TestPaths.binary, "run", "--config", conf]).status == 0)
        #expect(!Platform.exists(other.path + "/history"))
        r = Command.run([TestPaths.binary, "history", "--config", conf])
        #expect(r.status == 14 && r.stderr.contains("symbolic link"), "\(r.stderr)")
    }
}
