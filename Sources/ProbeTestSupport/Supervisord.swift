// A real supervisord for tests: its own temporary folder, config, unix socket and logs.
// The project's pinned one, at <packageRoot>/.venv/bin (`make venv` installs it there), whatever is on PATH.
@preconcurrency import Glibc
import CShim
import ProbeSupport
import ProbeSpawn

/// Why the harness could not give a test its supervisord (not installed, did not start, ...).
public struct SupervisordHarnessError: Error, CustomStringConvertible, Sendable {
    /// What went wrong and, where it can, the command that fixes it.
    public var message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// A real supervisord for one test: its own folder, config, unix socket and logs, started by
/// `init` (from `SupervisordConfig`'s sections) and stopped (SIGTERM, then SIGKILL) by `stop()`
/// or when the object goes away.
public final class SupervisordHarness: @unchecked Sendable {
    /// The temporary folder holding the config, socket, logs and child logs.
    public let dir: TempDir
    /// The supervisord.conf written for it (supervisorctl's `-c`).
    public let configPath: String
    /// Its unix socket (`[unix_http_server] file`).
    public let socketPath: String
    /// `unix://<socketPath>`.
    public let serverURL: String
    /// The `[unix_http_server]` username, when the test asked for authentication.
    public let username: String?
    /// The `[unix_http_server]` password, when the test asked for authentication.
    public let password: String?
    /// The supervisord that runs (see `findSupervisord()`).
    public let supervisordPath: String
    /// The supervisorctl beside it (or the one on PATH when there is none beside it).
    public let supervisorctlPath: String
    /// supervisord's pid (0 once it has been reaped).
    public private(set) var pid: Int32
    /// supervisord's wait status once reaped.
    public private(set) var exitStatus: Int32?

    /// The project's pinned supervisord, `<packageRoot>/.venv/bin/supervisord` (`make venv` installs
    /// `supervisor==SUPERVISOR_VERSION` there), never whichever one is first on PATH; or another one
    /// named on purpose by `READINESS_PROBE_SUPERVISORD` (`make end-to-end SUPERVISORD=/usr/bin/supervisord`).
    /// nil if that file is not there.
    public static func findSupervisord() -> String? {
        if let chosen = Platform.environment("READINESS_PROBE_SUPERVISORD"), !chosen.isEmpty {
            return Platform.isExecutable(chosen) ? chosen : nil
        }
        let venv = TestPaths.packageRoot + "/.venv/bin/supervisord"
        return Platform.isExecutable(venv) ? venv : nil
    }

    /// The supervisor version the project pins (SUPERVISOR_VERSION in the Makefile).
    public static var pinnedVersion: String? {
        guard let make = try? Platform.readTextFile(TestPaths.packageRoot + "/Makefile", limit: 1 << 20) else { return nil }
        for line in make.split(separator: "\n") where line.hasPrefix("SUPERVISOR_VERSION") {
            if let eq = line.firstIndex(of: "=") { return String(line[line.index(after: eq)...]).trimmingASCIIWhitespace() }
        }
        return nil
    }

    /// `SupervisordConfig.stubborn()` is RUNNING at spawn (startsecs=0), before its trap is set: wait for both.
    public func waitUntilStubbornIgnoresTERM(timeout: Duration = .seconds(10)) -> Bool {
        waitFor(program: "stubborn", state: "RUNNING", timeout: timeout)
            && Wait.until(timeout: timeout) { Platform.exists(dir.file("trapped")) }
    }

    /// Writes the config and starts `supervisord -n -c CONF`, then waits for its socket.
    /// - Parameters:
    ///   - programs: INI text appended to the config (`[program:x]` sections and so on);
    ///     `{dir}` in it is replaced by the harness's folder path.
    ///   - username/password: set on `[unix_http_server]` and `[supervisorctl]` when given.
    ///   - supervisorctlCredentials: false leaves them out of `[supervisorctl]` (to test 401 through supervisorctl).
    ///   - loglevel: supervisord's `loglevel`; `trace` logs every XML-RPC method called (see `xmlrpcMethods`).
    ///   - wrapper: a command that runs supervisord (e.g. `unshare -p -f --mount-proc --kill-child`, to make
    ///     it pid 1 of a new pid namespace); `pid` is then the wrapper's.
    public init(programs: String, username: String? = nil, password: String? = nil,
                supervisorctlCredentials: Bool = true, loglevel: String = "info", startTimeout: Duration = .seconds(20),
                wrapper: [String] = []) throws {
        guard let exe = SupervisordHarness.findSupervisord() else {
            throw SupervisordHarnessError(
                Platform.environment("READINESS_PROBE_SUPERVISORD").map { "READINESS_PROBE_SUPERVISORD=\($0) is not an executable file" }
                    ?? "the pinned supervisord \(TestPaths.packageRoot)/.venv/bin/supervisord is missing; run `make venv` (or `make test`)")
        }
        supervisordPath = exe
        let binDir = String(exe[..<exe.lastIndex(of: "/")!])
        supervisorctlPath = Platform.isExecutable(binDir + "/supervisorctl") ? binDir + "/supervisorctl" : "supervisorctl"
        dir = TempDir("sv")
        socketPath = dir.file("s.sock")
        serverURL = "unix://" + socketPath
        self.username = username
        self.password = password
        pid = 0
        guard socketPath.utf8.count <= 107 else {
            throw SupervisordHarnessError("socket path \(socketPath) is longer than 107 bytes")
        }
        var auth = ""
        if let username { auth += "username=\(username)\n" }
        if let password { auth += "password=\(password)\n" }
        let conf = """
            [unix_http_server]
            file=\(socketPath)
            chmod=0700
            \(auth)
            [supervisord]
            nodaemon=true
            logfile=\(dir.path)/supervisord.log
            pidfile=\(dir.path)/supervisord.pid
            childlogdir=\(dir.path)/logs
            loglevel=\(loglevel)

            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

            [supervisorctl]
            serverurl=\(serverURL)
            \(supervisorctlCredentials ? auth : "")

            """ + programs.replacing("{dir}", with: dir.path) + "\n"
        try Platform.makeDirectories(dir.file("logs"))
        configPath = try dir.write("supervisord.conf", conf)
        pid = try spawn(wrapper + [exe, "-n", "-c", configPath], output: dir.file("supervisord.out"))
        let deadline = Deadline.after(startTimeout)
        while !(((try? Platform.fileInfo(socketPath)) ?? nil)?.isSocket ?? false) {
            if reap() {
                throw SupervisordHarnessError("supervisord exited (status \(exitStatus ?? -1)) before creating its socket:\n\(output())")
            }
            if deadline.hasPassed {
                stop()
                throw SupervisordHarnessError("supervisord did not create \(socketPath) within \(startTimeout):\n\(output())")
            }
            Platform.sleep(milliseconds: 20)
        }
        // The file appears at bind(2), a moment before listen(2): wait until it accepts.
        while !SupervisordHarness.accepts(socketPath) {
            if deadline.hasPassed || reap() {
                stop()
                throw SupervisordHarnessError("supervisord does not accept connections on \(socketPath):\n\(output())")
            }
            Platform.sleep(milliseconds: 10)
        }
    }

    static func accepts(_ path: String) -> Bool {
        let fd = cshim_socket_cloexec(AF_UNIX, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return cshim_connect_unix(fd, path) == 0
    }

    private func spawn(_ argv: [String], output: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        _ = cshim_spawnattr_setup(&attr)  // own process group, clean signal state
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cargv { free(a) } }
        var child: pid_t = 0
        // In a group of its own: registered, so ProbeSpawn's orphan sweep never reaps it (its
        // exit status is this harness's to read).
        let rc = ForeignChildren.spawning {
            let rc = argv[0].hasPrefix("/") ? posix_spawn(&child, argv[0], &actions, &attr, &cargv, environ)
                                             : posix_spawnp(&child, argv[0], &actions, &attr, &cargv, environ)
            return (rc, rc == 0 ? child : nil)
        }
        if rc != 0 { throw SupervisordHarnessError("cannot start \(argv[0]): \(Platform.describe(errno: rc))") }
        return child
    }

    /// Reaps supervisord if it has exited; returns whether it has.
    @discardableResult
    private func reap() -> Bool {
        guard pid > 0 else { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid || (r < 0 && errno == ECHILD) {
            exitStatus = r == pid ? status : nil
            ForeignChildren.release(pid)
            pid = 0
            return true
        }
        return false
    }

    /// Whether supervisord is still running (reaps it if it has exited).
    public var isRunning: Bool { !reap() }

    /// supervisord's own stdout/stderr and its log file (for failure messages).
    public func output() -> String {
        let out = (try? Platform.readTextFile(dir.file("supervisord.out"), limit: 1 << 20)) ?? ""
        let log = (try? Platform.readTextFile(dir.file("supervisord.log"), limit: 1 << 20)) ?? ""
        return out + log
    }

    /// The XML-RPC methods supervisord logged as called (needs `loglevel: "trace"`), in order, from
    /// byte `offset` of its log; and the log's length, to pass as the next offset.
    public func xmlrpcMethods(since offset: Int = 0) -> (methods: [String], end: Int) {
        let log = Array(((try? Platform.readTextFile(dir.file("supervisord.log"), limit: 64 << 20)) ?? "").utf8)
        guard offset <= log.count else { return ([], log.count) }
        let marker = "XML-RPC method called: "
        var methods: [String] = []
        for line in String(decoding: log[offset...], as: UTF8.self).split(separator: "\n") {
            guard let r = line.firstRange(of: marker) else { continue }
            var m = line[r.upperBound...]
            if m.hasSuffix("()") { m = m.dropLast(2) }
            methods.append(String(m))
        }
        return (methods, log.count)
    }

    /// Runs `supervisorctl -c CONF args...`.
    public func supervisorctl(_ args: [String]) -> CommandResult {
        Command.run([supervisorctlPath, "-c", configPath] + args)
    }

    /// The state word `supervisorctl status NAME` shows, or nil (no such process, supervisord down...).
    public func state(of program: String) -> String? {
        let r = supervisorctl(["status", program])
        for line in r.stdout.split(separator: "\n") {
            let cols = line.split(separator: " ", omittingEmptySubsequences: true)
            if cols.count >= 2, cols[0] == program { return String(cols[1]) }
        }
        return nil
    }

    /// Polls until `program` shows `state` (e.g. "RUNNING", "EXITED", "FATAL").
    @discardableResult
    public func waitFor(program: String, state: String, timeout: Duration = .seconds(20)) -> Bool {
        Wait.until(timeout: timeout, every: .milliseconds(100)) { self.state(of: program) == state }
    }

    /// Sends a signal to supervisord (e.g. SIGTERM to start a shutdown) without waiting.
    public func signal(_ sig: Int32) {
        if pid > 0 { kill(pid, sig) }
    }

    /// Waits for supervisord to exit; returns whether it did.
    @discardableResult
    public func waitForExit(timeout: Duration) -> Bool {
        Wait.until(timeout: timeout, every: .milliseconds(20)) { self.reap() }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL the whole process group and reap.
    public func stop(grace: Duration = .seconds(15)) {
        guard pid > 0 else { return }
        let group = pid
        kill(pid, SIGTERM)
        if !waitForExit(timeout: grace) {
            kill(group, SIGKILL)
            var status: Int32 = 0
            while waitpid(group, &status, 0) < 0 && errno == EINTR {}
            exitStatus = status
            ForeignChildren.release(group)
            pid = 0
        }
    }

    deinit { stop(grace: .seconds(5)) }
}
