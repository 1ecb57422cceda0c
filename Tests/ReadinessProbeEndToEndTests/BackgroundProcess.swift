// A process started in the background (the real binary, a test server), with stdout and
// stderr in files that tests read while it runs.
@preconcurrency import Glibc
import ProbeSupport
import ProbeSpawn
import ProbeTestSupport
import ProbeHTTP

/// The harness would not start this command (`RundirGuard`: it would write the machine's /run).
struct HarnessRefusal: Error, CustomStringConvertible { var description: String }

final class BackgroundProcess: @unchecked Sendable {
    let pid: pid_t
    let dir: TempDir
    private var status: Int32?

    init(_ argv: [String], environment: [String: String] = [:]) throws {
        if let why = RundirGuard.refusal(argv, environment: environment) { throw HarnessRefusal(description: why) }
        dir = TempDir("bg")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, dir.file("out"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, dir.file("err"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let env = Command.environment(environment)
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cenv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for a in cargv { free(a) }; for a in cenv { free(a) } }
        var p: pid_t = 0
        let rc = ForeignChildren.spawning {
            let rc = posix_spawnp(&p, argv[0], &actions, nil, &cargv, &cenv)
            return (rc, rc == 0 ? p : nil)
        }
        if rc != 0 { throw SystemError("posix_spawn \(argv[0])", errno: rc) }
        pid = p
    }

    var stdout: String { (try? Platform.readTextFile(dir.file("out"), limit: 16 << 20)) ?? "" }
    var stderr: String { (try? Platform.readTextFile(dir.file("err"), limit: 16 << 20)) ?? "" }

    func signal(_ s: Int32) { if status == nil { kill(pid, s) } }

    /// The exit status (128+N for a signal), or nil if it has not exited within `timeout`.
    func waitExit(timeout: Duration = .seconds(10)) async -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        let done = await Wait.untilAsync(timeout: timeout, every: .milliseconds(5)) { waitpid(pid, &raw, WNOHANG) == pid }
        guard done else { return nil }
        ForeignChildren.release(pid)
        status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return status
    }

    /// Waits for a line of stderr that contains `text`.
    func waitForStderr(_ text: String, timeout: Duration = .seconds(10)) async -> Bool {
        await Wait.untilAsync(timeout: timeout) { stderr.contains(text) }
    }

    /// Not exited by the end of the test: killed with everything it started (hooks in their own
    /// process groups included), then reaped.
    deinit {
        if status == nil {
            Children.killTree(pid)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            ForeignChildren.release(pid)
        }
    }
}

/// `readiness-probe serve` on a free port, for endpoint tests.
final class ServeProcess: @unchecked Sendable {
    let process: BackgroundProcess
    let port: UInt16

    private init(process: BackgroundProcess, port: UInt16) {
        self.process = process
        self.port = port
    }

    static func start(config: String, extra: [String] = []) async throws -> ServeProcess {
        let proc = try BackgroundProcess([TestPaths.binary, "serve", "--config", config, "--listen", "127.0.0.1:0"] + extra)
        var found: UInt16?
        _ = await Wait.untilAsync {
            guard let line = proc.stderr.split(separator: "\n").first(where: { $0.hasPrefix("serve: listening on http://127.0.0.1:") }) else {
                return false
            }
            let rest = line.dropFirst("serve: listening on http://127.0.0.1:".count)
            found = UInt16(rest.prefix { $0.isNumber })
            return true
        }
        guard let found else { throw SystemError("serve did not start: \(proc.stderr)", errno: 0) }
        return ServeProcess(process: proc, port: found)
    }

    func get(_ target: String, headers: [(String, String)] = [], method: String = "GET") throws -> HTTPResponse {
        try HTTPClient.send(HTTPClientRequest(method: method, target: target, headers: headers),
                            to: .tcp(host: "127.0.0.1", port: port), deadline: .after(.seconds(5)))
    }

    /// Waits until `target` answers with `status` (and X-Readiness-Code `code`, if given); returns that response.
    func waitFor(_ target: String, status: Int, code: Int? = nil, timeout: Duration = .seconds(10)) async -> HTTPResponse? {
        var last: HTTPResponse?
        let ok = await Wait.untilAsync(timeout: timeout) {
            last = try? get(target)
            return last?.status == status && (code == nil || last?.header("X-Readiness-Code") == String(code!))
        }
        return ok ? last : nil
    }
}

extension Wait {
    /// `Wait.until` for async tests: sleeps with Task.sleep, so the cooperative pool (two threads
    /// on two cores) stays free for the tests that run alongside.
    static func untilAsync(timeout: Duration = .seconds(10), every: Duration = .milliseconds(20),
                           _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = Deadline.after(timeout)
        while true {
            if try condition() { return true }
            if deadline.hasPassed { return false }
            try? await Task.sleep(for: every)
        }
    }
}

/// `Command.run` on a thread of its own, off the cooperative pool.
func runCommand(_ argv: [String], environment: [String: String] = [:]) async -> CommandResult {
    await Blocking.run { Command.run(argv, environment: environment) }
}
