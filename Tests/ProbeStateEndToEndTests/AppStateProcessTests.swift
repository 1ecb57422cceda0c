// The state files under concurrent writers (threads and other processes, the old module's torn writes), and
// hooks/health.sh run as a process. The in-process tests are in ProbeStateTests/AppStateTests.swift.
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
