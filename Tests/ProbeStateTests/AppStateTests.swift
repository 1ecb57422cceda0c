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

/// The pid of a process that has exited and been reaped.
private func deadPID() -> Int32 {
    var pid: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { for a in argv { free(a) } }
    let rc = posix_spawn(&pid, "/bin/true", nil, nil, &argv, environ)
    precondition(rc == 0, "posix_spawn /bin/true: \(rc)")
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return pid
}

/// A plain thread (not Dispatch: Swift Testing's cooperative pool and Dispatch's global queues share the few
/// worker threads, so a busy reader in one test could starve a Dispatch writer forever).
private final class BackgroundThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void
    let finished = Atomic(false)

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<BackgroundThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            me.finished.store(true, ordering: .releasing)
            return nil
        }, box)
        precondition(rc == 0, "pthread_create: \(rc)")
    }

    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Joins the thread once it has finished, waiting at most `timeout`; false if it is still running.
    func join(timeout: Duration = .seconds(60)) -> Bool {
        guard Wait.until(timeout: timeout, every: .milliseconds(5), { isFinished }) else { return false }
        pthread_join(thread, nil)
        return true
    }
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

@Suite(.serialized) struct Concurrency {
    /// 10,000 atomic writes by one thread while another reads: the reader sees only whole values.
    @Test func concurrentSetAndRead() throws {
        let dir = TempDir("st")
        let store = try makeStore(dir)
        try store.set(error: 0)
        let writeFailure = Mutex<String?>(nil)
        let writer = BackgroundThread {
            do {
                for i in 0..<10_000 { try store.set(error: i % 2 == 0 ? 12345 : 0) }
            } catch {
                writeFailure.withLock { $0 = String(describing: error) }
            }
        }
        let deadline = Deadline.after(.seconds(60))
        var reads = 0
        var bad: [String] = []
        while (!writer.isFinished || reads < 100) && !deadline.hasPassed {
            let content = store.read().errorFile
            let text = content.text ?? "<\(content)>"
            if text != "0" && text != "12345" { bad.append(text) }
            reads += 1
        }
        #expect(writer.join())
        #expect(writeFailure.withLock { $0 } == nil)
        #expect(bad.isEmpty, "reader saw \(bad.prefix(5))")
        #expect(reads >= 100)
        #expect(try Platform.listDirectory(store.directory) == ["error"])
    }

    /// Another process renames files into place (the shell version of an atomic write) while this
    /// process evaluates: every verdict is healthy or error 12345.
    @Test func atomicWritesFromAnotherProcess() throws {
        let dir = TempDir("st")
        let store = try makeStore(dir)
        try store.load()
        try store.set(error: 0)
        let script = """
            cd "$1" || exit 9
            i=0
            while [ $i -lt 300 ]; do
              printf 12345 > error.tmp && mv -f error.tmp error || exit 8
              printf 0 > error.tmp && mv -f error.tmp error || exit 8
              i=$((i+1))
            done
            """
        let reasons = readWhileRunning(["/bin/sh", "-c", script, "sh", store.directory], store: store)
        #expect(reasons.status == 0)
        #expect(reasons.seen.isSubset(of: [.healthy, .errorNotZero]), "\(reasons.seen)")
        #expect(reasons.texts.isSubset(of: ["0", "12345"]), "\(reasons.texts)")
    }

    /// The old module truncates, then writes: a reader may see an empty file, or even a mix of old and new
    /// bytes (a read that started before the truncation sees "02345" on tmpfs). Each is a verdict (empty file,
    /// not a number, not zero), never a crash and never healthy unless the file held exactly "0".
    @Test func tornWritesByTheOldModule() throws {
        let dir = TempDir("st")
        let store = try makeStore(dir)
        try store.load()
        try store.set(error: 0)
        let script = """
            cd "$1" || exit 9
            i=0
            while [ $i -lt 5000 ]; do
              printf 12345 > error; printf 0 > error
              i=$((i+1))
            done
            """
        let reasons = readWhileRunning(["/bin/sh", "-c", script, "sh", store.directory], store: store)
        #expect(reasons.status == 0)
        #expect(reasons.seen.isSubset(of: [.healthy, .errorNotZero, .emptyErrorFile, .errorNotANumber]),
                "\(reasons.seen)")
        // Every text seen is made of bytes of "0" and "12345".
        #expect(reasons.texts.allSatisfy { $0.allSatisfy { "012345".contains($0) } }, "\(reasons.texts)")
        #expect(reasons.seen.contains(.healthy) || reasons.seen.contains(.errorNotZero))
    }

    /// Evaluates `store` in a busy loop while `argv` runs; returns its status, every reason and every error text seen.
    private func readWhileRunning(_ argv: [String], store: AppStateStore)
        -> (status: Int32, seen: Set<AppHealth.Reason>, texts: Set<String>) {
        let result = Mutex<CommandResult?>(nil)
        let writer = BackgroundThread {
            let r = Command.run(argv)
            result.withLock { $0 = r }
        }
        let deadline = Deadline.after(.seconds(60))
        var seen = Set<AppHealth.Reason>()
        var texts = Set<String>()
        while !writer.isFinished && !deadline.hasPassed {
            let h = store.evaluate()
            seen.insert(h.reason)
            texts.insert(h.snapshot.errorText ?? "<\(h.snapshot.errorFile)>")
            if h.isHealthy && h.snapshot.errorText != "0" { Issue.record("healthy with \(h.snapshot.errorFile)") }
        }
        guard writer.join() else {
            Issue.record("writer still running after 60 s")
            return (-1, seen, texts)
        }
        let r = result.withLock { $0 }!
        if r.status != 0 { Issue.record("writer failed: \(r.status) \(r.stderr)") }
        return (r.status, seen, texts)
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

/// hooks/health.sh against a stand-in for `readiness-probe` that records its argv and answers as told
/// (the real `state show` is wired by the CLI, not in this module).
@Suite struct HealthScript {
    let script = TestPaths.packageRoot + "/hooks/health.sh"

    func run(_ dir: TempDir, exit code: Int32, says: String, env: [String: String]) throws -> (CommandResult, String) {
        let stub = try dir.script("probe", """
            printf '%s\\n' "$@" > "\(dir.path)/argv"
            [ -n "\(says)" ] && printf '%s\\nsecond line\\n' "\(says)"
            exit \(code)
            """)
        var environment = ["PATH": "/usr/bin:/bin", "READINESS_PROBE": stub]
        for (k, v) in env { environment[k] = v }
        let r = Command.run([script], environment: environment, clearEnvironment: true)
        let argv = (try? Platform.readTextFile(dir.file("argv"))) ?? ""
        return (r, argv)
    }

    @Test func unhealthyMapsToOneWithTheReason() throws {
        let dir = TempDir("hs")
        let (r, argv) = try run(dir, exit: 5, says: "error is -1", env: ["CIC_UNIT": "web", "CIC_RUNDIR": "/srv/run"])
        #expect(r.status == 1)
        #expect(r.stdout == "")
        #expect(r.stderr == "health web: unhealthy: error is -1\n")
        #expect(argv == "state\nshow\n--unit\nweb\n--rundir\n/srv/run\n")
    }

    @Test func healthyIsZeroAndDefaultsFollowTheModule() throws {
        let dir = TempDir("hs")
        let (r, argv) = try run(dir, exit: 0, says: "ok", env: ["LIVENESS_UNIT_NAME": "lv"])
        #expect(r.status == 0)
        #expect(r.stderr == "health lv: ok\n")
        #expect(argv == "state\nshow\n--unit\nlv\n--rundir\n/run\n")

        let (h, hostArgv) = try run(dir, exit: 0, says: "", env: [:])
        #expect(h.status == 0)
        #expect(h.stderr == "health \(Platform.hostname()): healthy\n")
        #expect(hostArgv == "state\nshow\n--unit\n\(Platform.hostname())\n--rundir\n/run\n")
    }

    @Test(arguments: [1, 2, 3, 8, 127] as [Int32])
    func anyOtherCodeIsOne(_ code: Int32) throws {
        let dir = TempDir("hs")
        let (r, _) = try run(dir, exit: code, says: "", env: ["CIC_UNIT": "u"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("health u: unhealthy: "))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test func missingBinaryIsUnhealthy() {
        let r = Command.run([script], environment: ["PATH": "/usr/bin:/bin", "CIC_UNIT": "u",
                                                   "READINESS_PROBE": "/nonexistent/readiness-probe"],
                            clearEnvironment: true)
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("health u: unhealthy: "))
        #expect(r.stderr.contains("/nonexistent/readiness-probe"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }
}
