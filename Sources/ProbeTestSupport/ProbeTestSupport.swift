// Helpers shared by the test targets (not shipped): temporary folders, the package root,
// waiting for a condition with a deadline. The real-supervisord harness is in Supervisord.swift.
@preconcurrency import Glibc
import ProbeSupport
import CShim
import Synchronization

public enum TestPaths {
    /// The package root, found from this file's path.
    public static let packageRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    public static var fixtures: String { packageRoot + "/Tests/Fixtures" }

    /// The debug or release binary, built by `make test` before the tests run.
    public static var binary: String {
        if let b = Platform.environment("READINESS_PROBE_BIN") { return b }
        for candidate in [".build/debug/readiness-probe", ".build/release/readiness-probe"] {
            let p = packageRoot + "/" + candidate
            if Platform.isExecutable(p) { return p }
        }
        return packageRoot + "/.build/debug/readiness-probe"
    }

    public static func fixture(_ name: String) throws -> [UInt8] {
        try Platform.readFile(fixtures + "/" + name, limit: 1 << 22)
    }
}

/// A fresh temporary folder, removed (recursively) when `remove()` is called.
/// Paths are short so that unix socket paths stay under 107 bytes.
public final class TempDir: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "rp") {
        var template = Array("/tmp/\(label.prefix(8))-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = p.map { String(cString: $0) } ?? "/tmp/\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if p == nil { mkdir(path, 0o700) }
        chmod(path, 0o755)
    }

    public func file(_ name: String) -> String { path + "/" + name }

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
    public init() {}
    @discardableResult
    public func increment() -> Int { m.withLock { $0 += 1; return $0 } }
    public var value: Int { m.withLock { $0 } }
}

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

/// Runs a command to completion (test use only: blocking, unbounded output), returning
/// its exit status and output.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public enum Command {
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

    public static func run(_ argv: [String], environment: [String: String] = [:], stdin: String? = nil,
                           clearEnvironment: Bool = false) -> CommandResult {
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
        // in our process group, so ProbeSpawn's orphan sweep never reaps it behind our back.
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
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, &cargv, &cenv)
        if rc != 0 { return CommandResult(status: 127, stdout: "", stderr: "spawn \(argv[0]): \(Platform.describe(errno: rc))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno == EINTR { continue }
            return CommandResult(status: 126, stdout: "", stderr: "waitpid \(pid): \(Platform.describe(errno: errno))")
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = (try? Platform.readTextFile(outPath, limit: 64 << 20)) ?? ""
        let err = (try? Platform.readTextFile(errPath, limit: 64 << 20)) ?? ""
        return CommandResult(status: code, stdout: out, stderr: err)
    }
}
