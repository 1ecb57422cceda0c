// Helpers shared by the test targets (not shipped): temporary folders, the package root,
// waiting for a condition with a deadline. The real-supervisord harness is in Supervisord.swift.
@preconcurrency import Glibc
import ProbeSupport
import ProbeSpawn
import CShim
import Synchronization

/// Where the tests find the package, its fixtures and the binary under test.
public enum TestPaths {
    /// The package root, found from this file's path.
    public static let packageRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    /// `Tests/Fixtures` of the package (captured supervisord replies, configs, ...).
    public static var fixtures: String { packageRoot + "/Tests/Fixtures" }

    /// The readiness-probe binary the end-to-end tests run: `READINESS_PROBE_BIN` if set (to test
    /// another build on purpose), else the one SwiftPM built beside this test bundle (the same
    /// configuration and scratch path; `swift build --build-tests`, `swift test` and `make test`
    /// build both). Never another build's binary: when it is missing, or older than an object file
    /// it is linked from (compiled again, not linked again), the test run stops at once with the
    /// command that builds it.
    public static let binary: String = locateBinary()

    /// Where SwiftPM put this test bundle (`.build/<triple>/debug`), else `.build/debug`.
    public static var buildProducts: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            let exe = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if exe.hasSuffix(".xctest"), let slash = exe.lastIndex(of: "/") { return String(exe[..<slash]) }
        }
        return packageRoot + "/.build/debug"
    }

    static func locateBinary() -> String {
        if let explicit = Platform.environment("READINESS_PROBE_BIN") {
            guard Platform.isExecutable(explicit) else { stopTests("READINESS_PROBE_BIN=\(explicit) is not an executable file") }
            return explicit
        }
        let products = buildProducts
        let path = products + "/readiness-probe"
        let release = products.hasSuffix("/release")
        let build = "cd \(packageRoot) && swift build\(release ? " -c release" : "") --product readiness-probe"
        guard let built = modificationTime(path), Platform.isExecutable(path) else {
            stopTests("\(path) does not exist: run `\(build)` (`make test` builds it)")
        }
        if let (object, time) = newestObject(linkedInto: products + "/readiness-probe.product/Objects.LinkFileList"), time > built {
            stopTests("\(path) is older than \(object), which it is linked from, so it would test old code: run `\(build)` (`make test` builds it)")
        }
        return path
    }

    /// The newest of the object files SwiftPM links the binary from (its link file list).
    static func newestObject(linkedInto list: String) -> (String, Double)? {
        guard let text = try? Platform.readTextFile(list, limit: 1 << 20) else { return nil }
        var newest: (String, Double)?
        for line in text.split(separator: "\n") {
            let object = String(line).trimmingASCIIWhitespace()
            if let t = modificationTime(object), t > newest?.1 ?? 0 { newest = (object, t) }
        }
        return newest
    }

    static func modificationTime(_ path: String) -> Double? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    /// Ends the test run with a message on stderr: a test must not go on with the wrong binary.
    static func stopTests(_ message: String) -> Never {
        Platform.writeStderr("readiness-probe tests: \(message)\n")
        exit(70)
    }

    /// The bytes of `Tests/Fixtures/NAME` (at most 4 MiB).
    public static func fixture(_ name: String) throws -> [UInt8] {
        try Platform.readFile(fixtures + "/" + name, limit: 1 << 22)
    }
}

/// A fresh temporary folder, removed (recursively) when `remove()` is called.
/// Paths are short so that unix socket paths stay under 107 bytes.
public final class TempDir: @unchecked Sendable {
    /// The folder's absolute path (`/tmp/LABEL-XXXXXX`).
    public let path: String

    /// Creates `/tmp/LABEL-XXXXXX` (mode 0755; LABEL cut to 8 characters).
    public init(_ label: String = "rp") {
        var template = Array("/tmp/\(label.prefix(8))-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = p.map { String(cString: $0) } ?? "/tmp/\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if p == nil { mkdir(path, 0o700) }
        chmod(path, 0o755)
    }

    /// The path of `name` inside the folder (nothing is created).
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` (creating folders on the way) atomically with `mode`; returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String, mode: mode_t = 0o644) throws -> String {
        let p = file(name)
        if let slash = p.lastIndex(of: "/") { try Platform.makeDirectories(String(p[..<slash])) }
        try Platform.writeFileAtomically(p, Array(text.utf8), mode: mode)
        chmod(p, mode)
        return p
    }

    /// Writes an executable script (mode 0755) with a `#!/bin/sh` line if none is given.
    @discardableResult
    public func script(_ name: String, _ body: String) throws -> String {
        let text = body.hasPrefix("#!") ? body : "#!/bin/sh\n" + body
        return try write(name, text, mode: 0o755)
    }

    /// Removes the folder and everything in it (also done when the object goes away).
    public func remove() {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/rm"), strdup("-rf"), strdup(path), nil]
        defer { for a in argv { free(a) } }
        if posix_spawn(&pid, "/bin/rm", nil, nil, &argv, environ) == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    deinit { remove() }
}

/// A thread-safe counter (how many times a closure ran).
public final class Counter: Sendable {
    let m = Mutex(0)
    /// A counter at 0.
    public init() {}
    /// Adds one; returns the new count.
    @discardableResult
    public func increment() -> Int { m.withLock { $0 += 1; return $0 } }
    /// The count now.
    public var value: Int { m.withLock { $0 } }
}

/// Waiting for a condition with a deadline (never sleep-and-hope).
public enum Wait {
    /// Polls `condition` every `every` until it is true or `timeout` passes. Returns whether it became true.
    public static func until(timeout: Duration = .seconds(10), every: Duration = .milliseconds(20),
                             _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Deadline.after(timeout)
        while true {
            if try condition() { return true }
            if deadline.hasPassed { return false }
            Platform.sleep(milliseconds: Int(every.milliseconds))
        }
    }
}

/// Runs a command to completion (test use only: blocking, output to files), returning
/// its exit status and output.
public struct CommandResult: Sendable {
    /// The exit status, 128 + the signal for a command killed by one, 127 when it could not be spawned.
    public var status: Int32
    /// Everything it wrote to stdout.
    public var stdout: String
    /// Everything it wrote to stderr (plus a line from `Command.run` when it timed out).
    public var stderr: String
    /// The command ran past its deadline and was killed (with every process it started).
    public var timedOut = false
}

/// Running a command to completion from a test, with a deadline.
public enum Command {
    /// The deadline of a `run` that gives none: long enough for any test's command on a loaded
    /// machine, short enough that a hang fails the test instead of holding the suite.
    public static let defaultTimeout: Duration = .seconds(120)

    /// `KEY=VALUE` strings: this process's environment (unless `clear`) with `overrides` applied.
    public static func environment(_ overrides: [String: String], clear: Bool = false) -> [String] {
        var env: [String] = []
        if !clear {
            var e = environ
            while let p = e.pointee {
                let kv = String(cString: p)
                if overrides[String(kv.prefix(while: { $0 != "=" }))] == nil { env.append(kv) }
                e += 1
            }
        }
        for (k, v) in overrides { env.append("\(k)=\(v)") }
        return env
    }

    /// Runs `argv` until it exits or `timeout` passes. Past the deadline the command and every
    /// process it started are killed (SIGKILL) and reaped; the result has `timedOut`, status 137
    /// and a last stderr line that says so.
    /// A command the harness refuses (`RundirGuard`) is not run: status 125 and the reason on stderr.
    public static func run(_ argv: [String], environment: [String: String] = [:], stdin: String? = nil,
                           clearEnvironment: Bool = false, timeout: Duration = defaultTimeout) -> CommandResult {
        if let why = RundirGuard.refusal(argv, environment: environment, clearEnvironment: clearEnvironment) {
            return CommandResult(status: 125, stdout: "", stderr: why + "\n")
        }
        let dir = TempDir("cmd")
        let outPath = dir.file("out"), errPath = dir.file("err"), inPath = dir.file("in")
        _ = try? dir.write("in", stdin ?? "")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let env = Self.environment(environment, clear: clearEnvironment)
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for a in cargv { free(a) }; for a in cenv { free(a) } }
        // Default signal dispositions and an empty mask: the test runner may block or ignore
        // signals (SIGTERM, SIGPIPE) that the child and its children must see. The child stays
        // in our process group, so ProbeSpawn's orphan sweep never reaps it behind our back
        // (and so, at the deadline, its processes are found by parentage, not by group).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        // Registered as ours, so ProbeSpawn's orphan sweep (in-process runs of other tests) never
        // reaps it: a command that moves into a group of its own (GNU `timeout`) looks like an orphan.
        let rc = ForeignChildren.spawning {
            let rc = posix_spawnp(&pid, argv[0], &actions, &attr, &cargv, &cenv)
            return (rc, rc == 0 ? pid : nil)
        }
        if rc != 0 { return CommandResult(status: 127, stdout: "", stderr: "spawn \(argv[0]): \(Platform.describe(errno: rc))") }
        defer { ForeignChildren.release(pid) }
        let deadline = Deadline.after(timeout)
        var timedOut = false
        if !Children.waitUntilExited(pid, deadline: deadline) {
            timedOut = true
            Children.killTree(pid)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno == EINTR { continue }
            return CommandResult(status: 126, stdout: "", stderr: "waitpid \(pid): \(Platform.describe(errno: errno))")
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = (try? Platform.readTextFile(outPath, limit: 64 << 20)) ?? ""
        var err = (try? Platform.readTextFile(errPath, limit: 64 << 20)) ?? ""
        if timedOut { err += "\nCommand.run: \(argv.joined(separator: " ")) ran past its \(timeout) deadline; killed it and its processes\n" }
        return CommandResult(status: code, stdout: out, stderr: err, timedOut: timedOut)
    }
}

/// Waiting for and killing a test's child processes.
public enum Children {
    /// Waits until `pid` (a child of this process) has exited, without reaping it; false at the deadline.
    public static func waitUntilExited(_ pid: pid_t, deadline: Deadline) -> Bool {
        let fd = cshim_pidfd_open(pid)
        defer { if fd >= 0 { close(fd) } }
        while true {
            var info = siginfo_t()
            let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
            if rc == 0 && info.si_signo == SIGCHLD { return true }
            if rc != 0 && errno != EINTR { return true }  // not our child (any more): waitpid says why
            if deadline.hasPassed { return false }
            let left = max(1, min(Int(deadline.remaining.milliseconds), 1000))
            if fd >= 0 {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, Int32(left))
            } else {
                Platform.sleep(milliseconds: min(left, 10))
            }
        }
    }

    /// SIGKILLs `pid` and every process descended from it (found by parentage in /proc, so also
    /// those in other process groups or sessions), a few rounds to catch processes forked meanwhile.
    /// Reaps nothing: the caller reaps `pid`.
    public static func killTree(_ pid: pid_t) {
        for _ in 0..<3 {
            let tree = descendants(of: pid)
            kill(pid, SIGKILL)
            for p in tree { kill(p, SIGKILL) }
            if tree.isEmpty { break }
            Platform.sleep(milliseconds: 10)
        }
    }

    /// The processes descended from `pid` (not `pid` itself), from /proc/*/stat.
    public static func descendants(of pid: pid_t) -> [pid_t] {
        var parent: [pid_t: pid_t] = [:]
        for name in (try? Platform.listDirectory("/proc")) ?? [] {
            guard let p = pid_t(name), let stat = try? Platform.readFile("/proc/\(name)/stat", limit: 4096),
                  let close = stat.lastIndex(of: UInt8(ascii: ")")) else { continue }
            let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
            if fields.count > 1, let ppid = pid_t(String(decoding: fields[1], as: UTF8.self)) { parent[p] = ppid }
        }
        var out: [pid_t] = []
        var frontier: Set<pid_t> = [pid]
        while !frontier.isEmpty {
            let next = parent.filter { frontier.contains($0.value) }.map(\.key)
            out += next
            frontier = Set(next)
        }
        return out
    }
}

/// Tests never write outside their own temporary folders: `readiness-probe run`, `serve` and
/// `listen` write `<rundir>/readiness-probe` (the history; the listener's ledger, result and notify
/// socket), and the default rundir is the machine's `/run`. `Command.run` (and the end-to-end
/// target's `BackgroundProcess`) refuse to start the binary under test for such a command when its
/// config does not set `[probe] rundir` to a folder outside `/run` (or, for `run` and `serve`,
/// `[history] enabled = false`), so a test that forgets it fails at once, naming the fix, instead of
/// writing the machine's `/run/readiness-probe/history` (docs/testing.md).
public enum RundirGuard {
    /// Commands that write the rundir; the others (`history`, `validate`, `wait`, ...) only read it.
    static let writers = ["run", "serve", "listen"]
    /// Every command word (the first one of a group), to tell the command from an option's value.
    static let commands = ["run", "serve", "listen", "wait", "await", "report", "history", "timeline", "validate", "checks",
                           "codes", "state", "notify", "completion", "man", "version", "help"]

    /// Commands that run their arguments as a command (`timeout -s KILL 30 BINARY ...`, `setpriv ... BINARY ...`).
    static let wrappers = ["timeout", "setpriv", "prlimit", "env", "nice", "ionice", "nsenter", "unshare", "chroot"]

    /// Why `argv` may not run in a test, or nil. Looks at the binary under test run directly, after
    /// a `--`, or behind one of `wrappers`; not into scripts (`sh -c SCRIPT BINARY ...`, `demo.sh
    /// BINARY`: there the binary is an argument, and the script must follow the rule by hand).
    public static func refusal(_ argv: [String], environment: [String: String] = [:], clearEnvironment: Bool = false) -> String? {
        // Commands that do not name a readiness-probe never touch TestPaths.binary (which stops the
        // run when the binary is missing, and other targets' tests may not have built it).
        guard argv.contains(where: { $0.hasSuffix("/readiness-probe") }),
              let i = argv.firstIndex(of: TestPaths.binary),
              i == 0 || argv[i - 1] == "--" || wrappers.contains(argv[0].split(separator: "/").last.map(String.init) ?? "") else { return nil }
        let args = Array(argv[(i + 1)...])
        if args.contains(where: { ["--help", "-h", "--version", "-V"].contains($0) }) { return nil }
        var command = "run"
        var configPath: String? = nil
        var k = 0
        var sawCommand = false
        while k < args.count {
            let a = args[k]
            if (a == "--config" || a == "-c"), k + 1 < args.count { configPath = args[k + 1]; k += 2; continue }
            if a.hasPrefix("--config=") { configPath = String(a.dropFirst(9)) }
            if a.hasPrefix("-c"), !a.hasPrefix("--"), a.count > 2 { configPath = String(a.dropFirst(2)) }
            if !sawCommand, !a.hasPrefix("-"), commands.contains(a) { command = a; sawCommand = true }
            k += 1
        }
        guard writers.contains(command) else { return nil }
        // `--only`/`--exclude` do not help: a selection that names every check is a whole run, recorded.
        if command == "run" && args.contains("--cached") { return nil }
        let given = [configPath, environment["READINESS_PROBE_CONFIG"],
                     clearEnvironment ? nil : Platform.environment("READINESS_PROBE_CONFIG")].compactMap { $0 }.first { !$0.isEmpty }
        let path = given ?? "/etc/readiness-probe/readiness-probe.conf"
        // A config given but missing ends the command before it writes anything; a missing default
        // one means the built-in defaults: rundir /run.
        let text: String
        if let t = try? Platform.readTextFile(path, limit: 1 << 20) { text = t } else if given != nil { return nil } else { text = "" }
        var section = ""
        var rundir: String? = nil
        var historyOff = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.trimmingASCIIWhitespace()
            if line.hasPrefix("[") { section = line; continue }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq]).trimmingASCIIWhitespace()
            let value = String(line[line.index(after: eq)...]).trimmingASCIIWhitespace()
            if section == "[include]" { return nil }  // the included files may set it: not judged here
            if section == "[probe]" && key == "rundir" { rundir = value }
            if section == "[history]" && key == "enabled" && value == "false" { historyOff = true }
        }
        if let rundir, rundir != "/run", !rundir.hasPrefix("/run/") { return nil }
        if historyOff && command != "listen" && rundir == nil { return nil }
        return "test harness: refusing to run `readiness-probe \(command)` with \(path): it would write "
            + "\(rundir ?? "/run")/readiness-probe (the machine's own) — give the test's config `[probe] rundir = ` a folder of the test's own "
            + "(docs/testing.md, \"Tests write only their own folders\")"
    }

    /// A config in `dir` whose rundir is `dir`/run, then `text`: for tests whose commands end
    /// before reading any (bad arguments) but must never fall back to the machine's /run.
    public static func ownConfig(_ dir: TempDir, _ text: String = "") throws -> String {
        try dir.write("own-rundir.conf", "[probe]\nrundir = \(dir.path)/run\n" + text)
    }
}
