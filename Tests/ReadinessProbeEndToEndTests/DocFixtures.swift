// The setups a doc's console block can name (`<!-- doctest: NAME -->`, see DocTests.swift).
//
// Each fixture is a temporary root laid out as the docs describe a container:
//   <root>/etc/readiness-probe/readiness-probe.conf   (READINESS_PROBE_CONFIG)
//   <root>/etc/readiness-probe/hooks.d/               ([probe] hooks_dir)
//   <root>/run/                                       ([probe] rundir)
//   <root>/usr/local/bin/                             (on PATH)
// plus, when it has programs, a real supervisord (ProbeTestSupport's harness) whose socket is
// the config's serverurl. Output is compared with `<root>` removed, so the docs show the real
// paths (/etc/readiness-probe/hooks.d/50-webd), and doc commands naming those paths run on the
// fixture's copies. supervisord's own files show as /etc/supervisor/supervisord.conf,
// /var/run/supervisor.sock and /var/log/supervisor/.
//
// Adding a fixture: one entry in `all`. `{root}` in any text is the fixture's root folder.
import ProbeTestSupport
import ProbeSupport
import Glibc

struct DocFixture: Sendable {
    var name: String
    var about: String
    /// supervisord's programs (and any other sections); nil: no supervisord. `{root}` and `{bin}`
    /// (the binary under test) in a value are replaced.
    var supervisord: SupervisordConfig? = nil
    /// The body of readiness-probe.conf after the fixture's `[probe]` lines (rundir, hooks_dir,
    /// sonic_hook) and `[supervisor] serverurl`.
    var config: String = ""
    /// Files under the root: path, text, mode.
    var files: [DocFile] = []
    /// Programs and the state to wait for before the block runs.
    var ready: [(program: String, state: String)] = []
    /// Extra environment for the block's shell.
    var environment: [String: String] = [:]
    var timeoutSeconds: Int = 60
    /// A free TCP port stands in for the docs' `8080` (in commands and output).
    var port: Bool = false
    /// Polled (up to 30s) after `ready`, before the block runs.
    var readyWhen: (@Sendable (DocFixtureEnvironment) -> Bool)? = nil

    func setUp() throws -> DocFixtureEnvironment {
        let dir = TempDir("doc")
        let root = dir.path
        for d in ["etc/readiness-probe/hooks.d", "run", "usr/local/bin"] {
            try Platform.makeDirectories(dir.file(d))
        }
        var harness: SupervisordHarness? = nil
        if let programs = supervisord {
            harness = try SupervisordHarness(programs: programs.text.replacing("{root}", with: root)
                .replacing("{bin}", with: TestPaths.binary))
        }
        var conf = """
            [probe]
            rundir = \(root)/run
            hooks_dir = \(root)/etc/readiness-probe/hooks.d
            sonic_hook =

            """
        if let h = harness { conf += "\n[supervisor]\nserverurl = \(h.serverURL)\n" }
        conf += "\n" + config.replacing("{root}", with: root)
        try dir.write("etc/readiness-probe/readiness-probe.conf", conf)
        if let h = harness {
            // `supervisorctl` in a doc talks to this supervisord.
            try dir.write("usr/local/bin/supervisorctl", "#!/bin/sh\nexec '\(h.supervisorctlPath)' -c '\(h.configPath)' \"$@\"\n", mode: 0o755)
        }
        for f in files {
            try dir.write(f.path, f.text.replacing("{root}", with: root), mode: f.mode)
        }
        let env = DocFixtureEnvironment(dir: dir, harness: harness, extraEnvironment: environment, timeoutSeconds: timeoutSeconds,
                                        port: port ? DocFixtureEnvironment.freePort() : nil)
        if let h = harness {
            for (program, state) in ready where !h.waitFor(program: program, state: state, timeout: .seconds(30)) {
                throw SupervisordHarnessError("doc fixture \(name): \(program) did not become \(state):\n\(h.output())")
            }
        }
        if let readyWhen, !Wait.until(timeout: .seconds(30), every: .milliseconds(100), { readyWhen(env) }) {
            throw SupervisordHarnessError("doc fixture \(name): not ready within 30s:\n\(harness?.output() ?? "")")
        }
        return env
    }
}

struct DocFile: Sendable {
    var path: String
    var text: String
    var mode: mode_t
    init(_ path: String, _ text: String, mode: mode_t = 0o644) {
        self.path = path
        self.text = text
        self.mode = mode
    }
    static func hook(_ name: String, _ body: String) -> DocFile {
        DocFile("etc/readiness-probe/hooks.d/" + name, "#!/bin/sh\n" + body, mode: 0o755)
    }
}

final class DocFixtureEnvironment: @unchecked Sendable {
    let dir: TempDir
    let harness: SupervisordHarness?
    let timeoutSeconds: Int
    let extraEnvironment: [String: String]
    let port: UInt16?
    var root: String { dir.path }

    init(dir: TempDir, harness: SupervisordHarness?, extraEnvironment: [String: String], timeoutSeconds: Int, port: UInt16?) {
        self.dir = dir
        self.port = port
        self.harness = harness
        self.extraEnvironment = extraEnvironment
        self.timeoutSeconds = timeoutSeconds
    }

    var environment: [String: String] {
        var e = ["READINESS_PROBE_CONFIG": root + "/etc/readiness-probe/readiness-probe.conf",
                 "HOME": root, "LC_ALL": "C.UTF-8", "TERM": "dumb"]
        if let h = harness { e["SUPERVISOR_SERVER_URL"] = h.serverURL }
        for (k, v) in extraEnvironment { e[k] = v.replacing("{root}", with: root) }
        return e
    }

    /// Real paths to the paths the docs show.
    func mapPaths(_ text: String) -> String {
        var t = text
        if let h = harness {
            t = t.replacing(h.socketPath, with: "/var/run/supervisor.sock")
                .replacing(h.configPath, with: "/etc/supervisor/supervisord.conf")
                .replacing(h.dir.path + "/logs", with: "/var/log/supervisor")
                .replacing(h.dir.path, with: "/var/log/supervisor")
        }
        if let port { t = t.replacing(":\(port)", with: ":8080") }
        return t.replacing(root, with: "")
    }

    /// A port nobody listens on now (bound to 127.0.0.1:0, then closed).
    static func freePort() -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// A doc command's paths to the fixture's: /etc/readiness-probe, /etc/supervisor, /run and /usr/local/bin live under the root.
    func rewriteCommand(_ command: String) -> String {
        var c = command
        for prefix in ["/etc/readiness-probe", "/etc/supervisor/", "/run/", "/usr/local/bin/"] {
            for before in [" ", "=", "'", "\""] {
                c = c.replacing(before + prefix, with: before + root + prefix)
            }
        }
        if let port { c = c.replacing(":8080", with: ":\(port)") }
        return c
    }

    func tearDown() {
        harness?.stop(grace: .seconds(5))
    }
}

enum DocFixtures {
    static var names: [String] { all.map(\.name) }
    static func named(_ name: String) -> DocFixture? { all.first { $0.name == name } }

    static let all: [DocFixture] = [
        DocFixture(
            name: "tour",
            about: "README's tour: start still running until the webd hook has run once (then 3s more), syncd and webd RUNNING",
            supervisord: SupervisordConfig()
                .program("start", command: "sh -c 'while [ ! -e {root}/run/webd-checked ]; do sleep 0.2; done; sleep 3'",
                         startsecs: nil, autorestart: false)
                .program("syncd", command: "sleep 100000", startsecs: nil)
                .program("webd", command: "sleep 100000", startsecs: nil),
            config: """
                [programs]
                critical = syncd, webd

                """,
            files: [.hook("webd", "touch {root}/run/webd-checked\necho 'webd is ready'\n")],
            ready: [("start", "RUNNING"), ("syncd", "RUNNING"), ("webd", "RUNNING")]),
        DocFixture(
            name: "app-state",
            about: "no supervisord; unit myapp (LIVENESS_UNIT_NAME); /usr/local/bin/myapp-selftest exits 0",
            files: [DocFile("usr/local/bin/myapp-selftest", "#!/bin/sh\necho 'self-test passed'\n", mode: 0o755)],
            environment: ["LIVENESS_UNIT_NAME": "myapp"]),
        DocFixture(
            name: "syncd-stopped",
            about: "start exited 0; the critical program syncd is STOPPED (autostart=false)",
            supervisord: startExited0.program("syncd", command: "sleep 100000", startsecs: nil, autostart: false),
            config: "[programs]\ncritical = syncd\n",
            ready: [("start", "EXITED")]),
        DocFixture(
            name: "ready",
            about: "start exited 0, syncd and webd RUNNING and critical, hook webd passes; a free port stands for 8080",
            supervisord: startExited0
                .program("syncd", command: "sleep 100000", startsecs: nil)
                .program("webd", command: "sleep 100000", startsecs: nil),
            config: "[programs]\ncritical = syncd, webd\n",
            files: [.hook("webd", "echo 'webd is ready'\n")],
            ready: [("start", "EXITED"), ("syncd", "RUNNING"), ("webd", "RUNNING")],
            port: true),
        DocFixture(
            name: "listener",
            about: "readiness-probe listen as supervisord's event listener; start exited 3; the critical program syncd "
                + "killed itself with SIGKILL once (after 2s) and was restarted; the block runs once `run` and `run --cached` say so",
            supervisord: SupervisordConfig()
                .eventListener("readiness", command: "{bin} listen", events: "PROCESS_STATE,PROCESS_GROUP,TICK_5,SUPERVISOR_STATE_CHANGE",
                               bufferSize: 1024, priority: 0,
                               [("environment", "READINESS_PROBE_CONFIG=\"{root}/etc/readiness-probe/readiness-probe.conf\"")])
                .start(exit: 3)
                .program("syncd", command: "sh -c 'if [ -e {root}/run/killed ]; then exec sleep 100000; fi; touch {root}/run/killed; sleep 2; kill -KILL $$'",
                         startsecs: nil),
            config: "[programs]\ncritical = syncd\n",
            ready: [("start", "EXITED")],
            readyWhen: { env in
                Command.run([TestPaths.binary, "run"], environment: env.environment).stdout.contains("restarted by supervisord, now RUNNING")
                    && Command.run([TestPaths.binary, "run", "--cached"], environment: env.environment).stdout.contains("now RUNNING")
            }),
        DocFixture(
            name: "critical-typo",
            about: "SONiC layout: syncd and the group swss (orchagent, portsyncd) RUNNING; /etc/supervisor/critical_processes "
                + "names program:syncdd (a typo) and group:swss",
            supervisord: startExited0
                .program("syncd", command: "sleep 100000", startsecs: nil)
                .group("swss", programs: ["orchagent", "portsyncd"])
                .program("orchagent", command: "sleep 100000", startsecs: nil)
                .program("portsyncd", command: "sleep 100000", startsecs: nil),
            config: "[programs]\ncritical_file = {root}/etc/supervisor/critical_processes\n",
            files: [DocFile("etc/supervisor/critical_processes", "program:syncdd\ngroup:swss\n")],
            ready: [("start", "EXITED"), ("syncd", "RUNNING"), ("swss:orchagent", "RUNNING"), ("swss:portsyncd", "RUNNING")]),
        DocFixture(
            name: "bad-hooks",
            about: "start exited 0; [hook:selftest] is a mode-644 script; hooks.d has a script without #!, one with "
                + "#!/nonexistent/interp, and a README (mode 644)",
            supervisord: startExited0,
            config: "[hook:selftest]\ncommand = {root}/usr/local/bin/selftest\n",
            files: [DocFile("usr/local/bin/selftest", "#!/bin/sh\necho ok\n", mode: 0o644),
                    DocFile("etc/readiness-probe/hooks.d/50-no-shebang", "echo ok\n", mode: 0o755),
                    DocFile("etc/readiness-probe/hooks.d/60-interp", "#!/nonexistent/interp\necho ok\n", mode: 0o755),
                    DocFile("etc/readiness-probe/hooks.d/README", "hooks for this image\n", mode: 0o644)],
            ready: [("start", "EXITED")]),
    ]

    /// A one-shot start program that has exited 0.
    static let startExited0 = SupervisordConfig().start()
}
