import Glibc
import ProbeState
import ProbeSupport
import ProbeTestSupport
import Synchronization
import Testing

/// A store on a fresh temporary rundir, unit "app".
private func makeStore(_ dir: TempDir, unit: String = "app") throws -> AppStateStore {
    try AppStateStore(unit: unit, rundir: dir.path)
}

/// Writes the files as the liveness module does (plain text, no newline unless given).
private func writeRaw(_ dir: TempDir, pid: String? = nil, error: String? = nil) throws {
    if let pid { try dir.write("app/pid", pid) }
    if let error { try dir.write("app/error", error) }
}

/// A pid no process has: the highest one below the kernel's pid_max that kill(0) says does not
/// exist (found in-process: a unit test starts no process).
private func deadPID() -> Int32 {
    let max = Int32(((try? Platform.readTextFile("/proc/sys/kernel/pid_max")) ?? "32768").trimmingASCIIWhitespace()) ?? 32768
    var pid = max - 1
    while pid > 300 && !(kill(pid, 0) != 0 && errno == ESRCH) { pid -= 1 }
    return pid
}

private func health(_ dir: TempDir) throws -> AppHealth { try makeStore(dir).evaluate() }

@Suite struct UnitAndPaths {
    @Test func explicitUnitAndRundir() throws {
        let s = try AppStateStore(unit: "web", rundir: "/var/run/x/")
        #expect(s.directory == "/var/run/x/web")
        #expect(s.pidPath == "/var/run/x/web/pid")
        #expect(s.errorPath == "/var/run/x/web/error")
        #expect(try AppStateStore(unit: "web", rundir: "/").directory == "/web")
    }

    @Test func unitFromEnvironmentThenHostname() throws {
        let fromEnv = try AppStateStore(environment: ["LIVENESS_UNIT_NAME": "svc"])
        #expect(fromEnv.unit == "svc")
        #expect(fromEnv.directory == "/run/svc")
        let fromHost = try AppStateStore(environment: [:])
        #expect(fromHost.unit == Platform.hostname())
        let emptyEnv = try AppStateStore(environment: ["LIVENESS_UNIT_NAME": ""])
        #expect(emptyEnv.unit == Platform.hostname())
    }

    @Test(arguments: ["", ".", "..", "a/b", "/x", "a\u{0}b"])
    func invalidUnitsAreRefused(_ unit: String) {
        #expect(throws: AppStateError.self) { try AppStateStore(unit: unit, rundir: "/tmp") }
        do {
            _ = try AppStateStore(environment: ["LIVENESS_UNIT_NAME": unit.isEmpty ? "/" : unit])
            Issue.record("accepted \(unit)")
        } catch {
            #expect(error.description.contains("invalid unit name"))
            #expect(error.description.contains("LIVENESS_UNIT_NAME"))
        }
    }

    @Test func emptyRundirIsRefused() {
        #expect(throws: AppStateError.invalidRundir("")) { try AppStateStore(unit: "a", rundir: "") }
    }
}

@Suite struct Parsing {
    @Test func pidRules() {
        #expect(StateFormat.parsePID("123") == 123)
        #expect(StateFormat.parsePID("123\n") == 123)
        #expect(StateFormat.parsePID("2147483647") == Int32.max)
        for bad in ["", "\n", "0", "-1", "+1", " 1", "1 ", "1\n\n", "01", "abc", "1a", "2147483648",
                    "99999999999999999999", "1\r\n", "١"] {
            #expect(StateFormat.parsePID(bad) == nil, "\(bad.debugDescription)")
        }
    }

    @Test func errorRules() {
        #expect(StateFormat.parseError("0") == 0)
        #expect(StateFormat.parseError("0\n") == 0)
        #expect(StateFormat.parseError("-1") == -1)
        #expect(StateFormat.parseError("12345") == 12345)
        for bad in ["", "-", "-0", "00", "+0", " 0", "0 ", "abc", "0\n\n", "99999999999999999999"] {
            #expect(StateFormat.parseError(bad) == nil, "\(bad.debugDescription)")
        }
    }
}

@Suite struct Health {
    let me = Platform.processID

    @Test func filesWithoutNewlineAsTheModuleWritesThem() throws {
        let dir = TempDir("st")
        try writeRaw(dir, pid: "\(me)", error: "0")
        let snap = try makeStore(dir).read()
        #expect(snap.pidText == "\(me)")
        #expect(snap.pid == me)
        #expect(snap.errorText == "0")
        #expect(snap.error == 0)
        let h = try health(dir)
        #expect(h.isHealthy)
        #expect(h.reason == .healthy)
        #expect(h.detail == "process \(me) is running, error is 0")
    }

    @Test func filesWithATrailingNewline() throws {
        let dir = TempDir("st")
        try writeRaw(dir, pid: "\(me)\n", error: "0\n")
        #expect(try health(dir).isHealthy)
        #expect(try makeStore(dir).read().pid == me)
    }

    @Test func deadProcess() throws {
        let dir = TempDir("st")
        let dead = deadPID()
        try writeRaw(dir, pid: "\(dead)", error: "0")
        let h = try health(dir)
        #expect(h.reason == .processGone)
        #expect(h.detail == "process \(dead) is gone")
    }

    @Test func everyUnhealthyCaseHasItsOwnReasonAndDetail() throws {
        let cases: [(pid: String?, error: String?, AppHealth.Reason, String)] = [
            (nil, "0", .noPIDFile, "no pid file {dir}/app/pid"),
            ("", "0", .emptyPIDFile, "pid file is empty"),
            ("\n", "0", .emptyPIDFile, "pid file is empty"),
            ("abc", "0", .pidNotANumber, "pid file holds \"abc\""),
            ("-1", "0", .pidNotANumber, "pid file holds \"-1\""),
            ("0", "0", .pidNotANumber, "pid file holds \"0\""),
            ("12 34", "0", .pidNotANumber, "pid file holds \"12 34\""),
            ("1\n\n", "0", .pidNotANumber, "pid file holds \"1\\n\""),
            (String(repeating: "9", count: 300), "0", .pidNotANumber, "pid file holds more than 256 bytes"),
            (String(repeating: "7", count: 60), "0", .pidNotANumber,
             "pid file holds \"" + String(repeating: "7", count: 40) + "...\""),
            ("{me}", nil, .noErrorFile, "no error file {dir}/app/error"),
            ("{me}", "-1", .errorNotZero, "error is \"-1\""),
            ("{me}", "1", .errorNotZero, "error is \"1\""),
            ("{me}", "12345\n", .errorNotZero, "error is \"12345\""),
            ("{me}", "abc", .errorNotANumber, "error is \"abc\""),
            ("{me}", "00", .errorNotANumber, "error is \"00\""),
            ("{me}", "0 ", .errorNotANumber, "error is \"0 \""),
            ("{me}", "", .emptyErrorFile, "error file is empty"),
        ]
        var seen = Set<AppHealth.Reason>()
        for (pid, error, reason, detailTemplate) in cases {
            let dir = TempDir("st")
            try Platform.makeDirectories(dir.file("app"))
            try writeRaw(dir, pid: pid?.replacingOccurrences("{me}", "\(me)"), error: error)
            let h = try health(dir)
            let detail = detailTemplate.replacingOccurrences("{dir}", dir.path)
            #expect(!h.isHealthy)
            #expect(h.reason == reason, "pid \(pid.debugDescription) error \(error.debugDescription)")
            #expect(h.detail == detail)
            #expect(!h.detail.contains("\n"))
            seen.insert(h.reason)
        }
        #expect(seen.count == 7)
    }

    @Test func unreadableFilesNameThePathAndErrno() throws {
        // A folder in place of the file: refused after fstat, before any read, even as root.
        let dir = TempDir("st")
        try Platform.makeDirectories(dir.file("app/pid"))
        var h = try health(dir)
        #expect(h.reason == .unreadablePIDFile)
        #expect(h.detail == "cannot read pid file \(dir.path)/app/pid: it is a directory, not a regular file")

        try Platform.removeDirectoryForTest(dir.file("app/pid"))
        try writeRaw(dir, pid: "\(me)")
        try Platform.makeDirectories(dir.file("app/error"))
        h = try health(dir)
        #expect(h.reason == .unreadableErrorFile)
        #expect(h.detail == "cannot read error file \(dir.path)/app/error: it is a directory, not a regular file")
    }

    @Test func missingFolderIsNoPIDFile() throws {
        let dir = TempDir("st")
        let h = try AppStateStore(unit: "app", rundir: dir.file("nothing/here")).evaluate()
        #expect(h.reason == .noPIDFile)
        let hf = try AppStateStore(unit: "app", rundir: try dir.write("plain", "x")).evaluate()
        #expect(hf.reason == .noPIDFile)
    }

    @Test func jsonCarriesRawAndParsedValues() throws {
        let dir = TempDir("st")
        try writeRaw(dir, pid: "\(me)", error: "-1")
        let json = try health(dir).jsonValue
        #expect(json["healthy"] == .bool(false))
        #expect(json["reason"] == .string("error-not-zero"))
        #expect(json["detail"] == .string("error is \"-1\""))
        #expect(json["pid"]?.intValue == Int(me))
        #expect(json["error"]?.intValue == -1)
        #expect(json["pid_text"] == .string("\(me)"))
        #expect(json["error_text"] == .string("-1"))
        #expect(json["unit"] == .string("app"))
    }
}

@Suite struct Writing {
    @Test func loadSetResetRoundTrip() throws {
        let dir = TempDir("st")
        let store = try makeStore(dir)
        try store.load()
        #expect(try Platform.readTextFile(store.pidPath) == "\(Platform.processID)")
        #expect(store.evaluate().reason == .noErrorFile)
        try store.set(error: 0)
        #expect(try Platform.readTextFile(store.errorPath) == "0")
        #expect(store.evaluate().isHealthy)
        try store.set(error: -1)
        #expect(try Platform.readTextFile(store.errorPath) == "-1")
        #expect(store.evaluate().reason == .errorNotZero)

        let dirInfo = try #require(try Platform.fileInfo(store.directory))
        #expect(dirInfo.isDirectory && dirInfo.permissions == 0o755)
        #expect(try Platform.fileInfo(store.pidPath)?.permissions == 0o644)
        #expect(try Platform.fileInfo(store.errorPath)?.permissions == 0o644)

        try store.reset()
        #expect(!Platform.exists(store.pidPath))
        #expect(!Platform.exists(store.errorPath))
        #expect(store.evaluate().reason == .noPIDFile)
        try store.reset()  // already gone: fine
        // No temporary files are left behind.
        #expect(try Platform.listDirectory(store.directory) == [])
    }

    @Test func loadRecordsTheGivenPid() throws {
        let dir = TempDir("st")
        let store = try makeStore(dir)
        try store.load(pid: Platform.parentProcessID)
        #expect(store.read().pid == Platform.parentProcessID)
        #expect(throws: AppStateError.invalidPID(0)) { try store.load(pid: 0) }
        #expect(throws: AppStateError.invalidPID(-5)) { try store.load(pid: -5) }
    }

    struct Boom: Error, CustomStringConvertible { var description: String { "database is down" } }
    struct DB: HealthCheck {
        var up: Bool
        var name: String { "db" }
        func check() throws { if !up { throw Boom() } }
    }

    @Test func loadWithAFailingCheckWritesNothing() throws {
        let dir = TempDir("st")
        let store = try makeStore(dir)
        let ran = Mutex(0)
        do {
            try store.load(checks: [DB(up: true), DB(up: false), HealthFunction("never") { ran.withLock { $0 += 1 } }])
            Issue.record("load succeeded")
        } catch {
            #expect(error == .checkFailed(name: "db", detail: "database is down"))
            #expect(error.description == "health check db failed: database is down; state not written")
        }
        #expect(ran.withLock { $0 } == 0)
        #expect(!Platform.exists(store.directory))

        // Closures: numbered in the error; an earlier pid file is left as it was.
        try store.load(pid: 4242, checks: [] as [any HealthCheck])
        #expect(throws: AppStateError.checkFailed(name: "check 2", detail: "database is down")) {
            try store.load(checks: [{}, { throw Boom() }])
        }
        #expect(store.read().pidText == "4242")

        try store.load(checks: [{}, {}])
        #expect(store.read().pid == Platform.processID)
    }

    @Test func unwritableRundirNamesThePath() throws {
        // Root ignores permission bits, so use a path under a regular file (ENOTDIR) which fails for everyone.
        let dir = TempDir("st")
        let file = try dir.write("file", "x")
        let store = try AppStateStore(unit: "app", rundir: file + "/x")
        let ops: [() throws -> Void] = [{ try store.load() }, { try store.set(error: 0) }]
        for op in ops {
            do {
                try op()
                Issue.record("write under a file succeeded")
            } catch let error as AppStateError {
                guard case .makeDirectory(let path, let sys) = error else {
                    Issue.record("unexpected \(error)"); continue
                }
                #expect(path == file + "/x/app")
                #expect(sys.errno == ENOTDIR)
                #expect(error.description.hasPrefix("cannot create state folder \(file)/x/app: "))
                #expect(error.description.hasSuffix(Platform.describe(errno: ENOTDIR)))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        // reset of files that cannot exist is fine.
        try store.reset()
    }

    @Test(.enabled(if: Platform.effectiveUserID != 0, "root ignores permission bits"))
    func readOnlyRundirNamesThePath() throws {
        let dir = TempDir("st")
        let store = try makeStore(dir)
        try Platform.makeDirectories(store.directory)
        try Platform.changeMode(store.directory, 0o555)
        defer { try? Platform.changeMode(store.directory, 0o755) }
        #expect(throws: AppStateError.self) { try store.set(error: 0) }
        do { try store.set(error: 0) } catch {
            guard case .write(let path, let sys) = error else { Issue.record("unexpected \(error)"); return }
            #expect(path == store.errorPath)
            #expect(sys.errno == EACCES)
            #expect(error.description.hasPrefix("cannot write state file \(store.errorPath): "))
        }
        try Platform.changeMode(dir.path, 0o555)
        defer { try? Platform.changeMode(dir.path, 0o755) }
        let other = try makeStore(dir, unit: "other")
        #expect(throws: AppStateError.makeDirectory(path: other.directory,
                                                    SystemError("mkdir", path: other.directory, errno: EACCES))) {
            try other.load()
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension Platform {
    fileprivate static func removeDirectoryForTest(_ path: String) throws {
        if rmdir(path) != 0 { throw SystemError("rmdir", path: path) }
    }
}
