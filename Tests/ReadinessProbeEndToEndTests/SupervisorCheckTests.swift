// The start and programs checks against a real supervisord (each test its own folder
// and socket), through the real binary.
import Testing
import ProbeSupport
@testable import ReadinessProbe
import SupervisorKit
import ProbeTestSupport
import Glibc

/// Runs the binary with a config (the harness's socket unless `serverurl` is given).
func probe(_ h: SupervisordHarness?, _ sections: String, serverURL: String? = nil, source: String = "xmlrpc",
           extra: [String] = [], format: String = "json", timeout: String = "5s") throws -> (status: Int32, json: JSONValue?, out: CommandResult) {
    let dir = TempDir("pcfg")
    var text = "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\ntimeout = \(timeout)\n[supervisor]\nsource = \(source)\n"
    if let url = serverURL ?? h?.serverURL { text += "serverurl = \(url)\n" }
    if let h, let u = h.username, serverURL == nil { text += "username = \(u)\npassword = \(h.password ?? "")\n" }
    if let h { text += "config = \(h.configPath)\nsupervisorctl = \(h.supervisorctlPath)\n" }
    text += sections
    let path = try dir.write("rp.conf", text)
    let r = Command.run([TestPaths.binary, "run", "--config", path, "--format", format] + extra)
    return (r.status, format == "json" ? try? JSON.parse(r.stdout) : nil, r)
}

extension JSONValue {
    func check(_ name: String) -> JSONValue? { self["checks"]?.arrayValue?.first { $0["name"]?.stringValue == name } }
    var code: Int? { self["code"]?.intValue }
    var detail: String { self["detail"]?.stringValue ?? "" }
    var status: String { self["status"]?.stringValue ?? "" }
}

@Suite(.serialized) struct StartAndProgramsTests {
    static let programs = SupervisordConfig()
        .start("startok")
        .start("startbad", exit: 1)
        .program("startslow", command: "sleep 300", autorestart: false)
        .program("crasher", command: "sh -c 'exit 1'", startsecs: 1, startretries: 1)
        .program("daemon", command: "sleep 300")
        .program("stopme", command: "sleep 300")
        .program("worker", command: "sleep 300", [("numprocs", "2"), ("process_name", "%(program_name)s_%(process_num)02d")])

    @Test func startAndProgramVerdictsOverXMLRPCAndSupervisorctl() throws {
        let h = try SupervisordHarness(Self.programs)
        defer { h.stop() }
        #expect(h.waitFor(program: "startok", state: "EXITED"))
        #expect(h.waitFor(program: "startbad", state: "EXITED"))
        #expect(h.waitFor(program: "crasher", state: "FATAL"))
        #expect(h.waitFor(program: "daemon", state: "RUNNING"))
        #expect(h.waitFor(program: "worker:worker_01", state: "RUNNING"))
        _ = h.supervisorctl(["stop", "stopme"])
        #expect(h.waitFor(program: "stopme", state: "STOPPED"))

        // The start program, over XML-RPC: exit status decides.
        let cases: [(String, Int, String)] = [
            ("startok", 0, "startok exited 0"),
            ("startbad", 2, "startbad exited 1"),
            ("startslow", 2, "startslow still running (pid"),
            ("crasher", 2, "crasher is FATAL: Exited too quickly"),
            ("stopme", 2, "stopme is STOPPED before it finished"),
        ]
        for (program, code, detail) in cases {
            let r = try probe(h, "[start]\nprogram = \(program)\n")
            #expect(Int(r.status) == code, "\(program): \(r.out.stdout)")
            #expect(r.json?.check("start")?.detail.hasPrefix(detail) == true, "\(program): \(r.out.stdout)")
        }
        // A missing start program passes (SONiC) unless required.
        let missing = try probe(h, "[start]\nprogram = nosuch\n")
        #expect(missing.status == 0)
        let required = try probe(h, "[start]\nprogram = nosuch\nrequired = true\n")
        #expect(required.status == 2)
        let exitcodes = try probe(h, "[start]\nprogram = startbad\nexitcodes = 0, 1\n")
        #expect(exitcodes.status == 0)

        // Critical programs.
        let ok = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical = daemon, group:worker\n")
        #expect(ok.status == 0, "\(ok.out.stdout)")
        #expect(ok.json?.check("programs")?.detail == "3 critical programs RUNNING")
        let stopped = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical = daemon, stopme\n")
        #expect(stopped.status == 4)
        #expect(stopped.json?.check("programs")?.detail.hasPrefix("program stopme is STOPPED") == true)
        let fatal = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical = crasher\n")
        #expect(fatal.status == 4)
        // XML-RPC names the program's log (supervisorctl does not).
        #expect(fatal.json?.check("programs")?.detail.hasPrefix("program crasher is FATAL (Exited too quickly (process log may have details); log: \(h.dir.path)/logs/crasher-stderr---supervisor-") == true,
                "\(fatal.out.stdout)")
        let unknown = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical = ghost\n")
        #expect(unknown.status == 4)
        #expect(unknown.json?.check("programs")?.detail.hasSuffix(": ghost: no such program in supervisord") == true, "\(unknown.out.stdout)")
        _ = h.supervisorctl(["stop", "worker:worker_00"])
        #expect(h.waitFor(program: "worker:worker_00", state: "STOPPED"))
        let group = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical = group:worker\n")
        #expect(group.status == 4)
        #expect(group.json?.check("programs")?.detail.hasPrefix("program worker:worker_00 is STOPPED") == true)
        // `*` means every program but the start program: several are not running here.
        let star = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical = *\n")
        #expect(star.status == 4)
        #expect(star.json?.check("programs")?.detail.contains("startok") == false)

        // The same verdicts from `supervisorctl status` output, except where the text cannot
        // know: the exit status of an EXITED one-shot is a warning, not a pass or a fail.
        for (program, code, _) in cases {
            let x = try probe(h, "[start]\nprogram = \(program)\n[programs]\ncritical = daemon, stopme, crasher, group:worker\n")
            let c = try probe(h, "[start]\nprogram = \(program)\n[programs]\ncritical = daemon, stopme, crasher, group:worker\n",
                              source: "supervisorctl")
            #expect(c.json?.check("programs")?.code == x.json?.check("programs")?.code, "\(program)")
            // The same words; only XML-RPC names the log file of a FATAL or EXITED program.
            func noLog(_ d: String?) -> String? { d?.replacing(/; log: [^;)]*/, with: "") }
            #expect(noLog(c.json?.check("programs")?.detail) == noLog(x.json?.check("programs")?.detail), "\(program)")
            if program == "startok" || program == "startbad" {
                #expect(c.json?.check("start")?.status == "warn", "\(program): \(c.out.stdout)")
                #expect(c.json?.check("start")?.detail == "EXITED; exit status unknown from supervisorctl output")
            } else {
                #expect(c.json?.check("start")?.code == code, "\(program): \(c.out.stdout) \(c.out.stderr)")
            }
        }
    }

    /// A typo in a SONiC critical_processes file: the row names the file and line and the closest
    /// name supervisord has (#17); the first line says the same in short.
    @Test func criticalFileTypoSaysWhereAndSuggests() throws {
        let h = try SupervisordHarness(Self.programs)
        defer { h.stop() }
        #expect(h.waitFor(program: "daemon", state: "RUNNING"))
        let dir = TempDir("crit")
        let file = try dir.write("critical_processes", "# SONiC\nprogram:daemon\nprogram:deamon\ngroup:workr\nprogram:zzzzzz\n")
        let r = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical_file = \(file)\n")
        #expect(r.status == 4)
        #expect(r.json?["summary"]?.stringValue == "programs: no such program deamon (did you mean daemon?) (+2 more)", "\(r.out.stdout)")
        #expect(r.json?.check("programs")?.detail == "\(file):3: program:deamon: no such program in supervisord (did you mean daemon?); "
                + "also no such group workr (did you mean worker?), no such program zzzzzz", "\(r.out.stdout)")
        let table = try probe(h, "[start]\nprogram = startok\n[programs]\ncritical = daemon, deamon\n", format: "summary")
        #expect(table.out.stdout.hasPrefix("not ready (code 4): programs: no such program deamon (did you mean daemon?)\n"), "\(table.out.stdout)")
        #expect(table.out.stdout.contains("rp.conf:14: deamon: no such program in supervisord (did you mean daemon?)"), "\(table.out.stdout)")
    }

    /// `validate` finds the same typos when supervisord answers (in the running container), and
    /// says it did not check the names when it does not (an image build): exit 0 then.
    @Test func validateFindsCriticalTyposWhenSupervisordAnswers() throws {
        let h = try SupervisordHarness(Self.programs)
        defer { h.stop() }
        #expect(h.waitFor(program: "daemon", state: "RUNNING"))
        let dir = TempDir("crit")
        let file = try dir.write("critical_processes", "# SONiC\nprogram:daemon\nprogram:deamon\ngroup:worker\ngroup:workr\n")
        let conf = try dir.write("rp.conf", "[probe]\nhooks_dir =\nsonic_hook =\n[supervisor]\nserverurl = \(h.serverURL)\n"
                                 + "[start]\nprogram = startok\n[programs]\ncritical = daemon, worker_01, *\ncritical_file = \(file)\n")
        let r = Command.run([TestPaths.binary, "validate", "--config", conf])
        #expect(r.status == 8, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr == "readiness-probe: invalid configuration: \(file):3: program:deamon: no such program in supervisord (did you mean daemon?)\n"
                + "readiness-probe: invalid configuration: \(file):5: group:workr: no such group in supervisord (did you mean worker?)\n", "\(r.stderr)")
        let fixed = try dir.write("critical_processes", "program:daemon\ngroup:worker\n")
        let ok = Command.run([TestPaths.binary, "validate", "--config", conf])
        #expect(ok.status == 0 && ok.stdout == "ok: \(conf): 2 checks (start, programs)\n", "\(fixed) \(ok.stdout) \(ok.stderr)")
        // No supervisord to ask: valid, with a note.
        let gone = try dir.write("gone.conf", "[probe]\nhooks_dir =\nsonic_hook =\n[supervisor]\nserverurl = unix://\(dir.path)/none.sock\n"
                                 + "[programs]\ncritical = deamon\n")
        let g = Command.run([TestPaths.binary, "validate", "--config", gone])
        #expect(g.status == 0, "\(g.stderr)")
        #expect(g.stdout.hasSuffix("\nnote: critical program names not checked against supervisord (supervisord unreachable: no socket); `run` checks them\n"), "\(g.stdout)")
    }

    @Test func authenticationRightWrongMissing() throws {
        let h = try SupervisordHarness(SupervisordConfig().start(),
                                       username: "user", password: "s3cret")
        defer { h.stop() }
        #expect(h.waitFor(program: "start", state: "EXITED"))
        let right = try probe(h, "")
        #expect(right.status == 0, "\(right.out.stdout)")
        let dir = TempDir("auth")
        let wrong = try dir.write("w.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[supervisor]\nsource = xmlrpc\nserverurl = \(h.serverURL)\nusername = user\npassword = nope\n")
        let w = Command.run([TestPaths.binary, "run", "--config", wrong])
        #expect(w.status == 3)
        #expect(w.stdout.contains("rejected the credentials of user \"user\""), "\(w.stdout)")
        let missing = try dir.write("m.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[supervisor]\nsource = xmlrpc\nserverurl = \(h.serverURL)\n")
        let m = Command.run([TestPaths.binary, "run", "--config", missing])
        #expect(m.status == 3)
        #expect(m.stdout.contains("requires authentication"))
        // auto: XML-RPC is refused, but supervisorctl knows the credentials (its config has them).
        let auto = try dir.write("a.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[supervisor]\nsource = auto\nserverurl = \(h.serverURL)\nconfig = \(h.configPath)\nsupervisorctl = \(h.supervisorctlPath)\n")
        let a = Command.run([TestPaths.binary, "run", "--config", auto, "--format", "json"])
        #expect(a.status == 0, "\(a.stdout)")
    }

    @Test func supervisordShuttingDownGoneAndStale() throws {
        let h = try SupervisordHarness(SupervisordConfig().start().stubborn())
        defer { h.stop() }
        #expect(h.waitUntilStubbornIgnoresTERM())
        h.signal(SIGTERM)
        // While stubborn holds up the stop, every call faults with SHUTDOWN_STATE.
        var shutdown: (status: Int32, json: JSONValue?, out: CommandResult)? = nil
        #expect(Wait.until(timeout: .seconds(4)) {
            shutdown = try? probe(h, "")
            return shutdown?.json?.check("start")?.detail.contains("shutting down") == true
        })
        #expect(shutdown?.status == 3)
        #expect(h.waitForExit(timeout: .seconds(15)))
        let gone = try probe(h, "")
        #expect(gone.status == 3)
        #expect(gone.json?.check("start")?.detail.contains("does not exist") == true, "\(gone.out.stdout)")
    }

    @Test func staleSocketIsRefused() throws {
        let h = try SupervisordHarness(SupervisordConfig().start())
        defer { h.stop() }
        h.signal(SIGKILL)
        #expect(h.waitForExit(timeout: .seconds(5)))
        #expect(Platform.exists(h.socketPath))
        let r = try probe(h, "")
        #expect(r.status == 3)
        #expect(r.json?.check("start")?.detail.contains("stale socket") == true, "\(r.out.stdout)")
    }
}

/// A fake supervisord on a unix socket: accepts, reads the request, then misbehaves.
final class FakeServer: @unchecked Sendable {
    let path: String
    let fd: Int32
    init(dir: TempDir, reply: @escaping @Sendable (Int32) -> Void) throws {
        Platform.ignoreSIGPIPE()  // the probe may hang up first
        path = dir.file("fake.sock")
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0, listen(fd, 8) == 0 else { throw SystemError("bind", path: path) }
        let listener = fd
        PlainThread.detach {
            while true {
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                var buf = [UInt8](repeating: 0, count: 65536)
                _ = read(c, &buf, buf.count)
                reply(c)
            }
        }
    }
    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

@Suite struct BadSupervisordReplies {
    func run(_ reply: @escaping @Sendable (Int32) -> Void) throws -> (Int32, String, Duration) {
        let dir = TempDir("fake")
        let server = try FakeServer(dir: dir, reply: reply)
        let start = ContinuousClock.now
        let r = try probe(nil, "[start]\nprogram = start\n", serverURL: "unix://" + server.path, timeout: "1s")
        return (r.status, r.json?.check("start")?.detail ?? r.out.stdout, ContinuousClock.now - start)
    }

    static func send(_ fd: Int32, _ s: String) { _ = Array(s.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }

    @Test func garbage() throws {
        let (status, detail, _) = try run { c in BadSupervisordReplies.send(c, "SSH-2.0-OpenSSH\r\n\r\n"); close(c) }
        #expect(status == 3)
        #expect(detail.contains("malformed reply"), "\(detail)")
    }

    @Test func truncated() throws {
        let (status, detail, _) = try run { c in
            BadSupervisordReplies.send(c, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 500\r\n\r\n<?xml version='1.0'?><methodResponse>")
            close(c)
        }
        #expect(status == 3)
        #expect(detail.contains("closed the connection") || detail.contains("malformed"), "\(detail)")
    }

    @Test func neverEnding() throws {
        let (status, detail, took) = try run { c in
            BadSupervisordReplies.send(c, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<?xml")
            // ...and never the rest: the probe must give up by its deadline (1 s), not wait 30 s.
            Platform.sleep(milliseconds: 30_000)
            close(c)
        }
        #expect(status == 3 || status == 9)
        #expect(took < .seconds(10), "took \(took)")
        #expect(detail.contains("in time") || detail.contains("deadline"), "\(detail)")
    }

    @Test func notXMLRPC() throws {
        let (status, detail, _) = try run { c in
            BadSupervisordReplies.send(c, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 13\r\n\r\n<html></html>")
            close(c)
        }
        #expect(status == 3)
        #expect(detail.contains("malformed reply"), "\(detail)")
    }
}

@Suite struct SupervisorFaultTests {
    @Test func stoppedSupervisordNeverRepliesButTheProbeDoes() throws {
        let h = try SupervisordHarness(SupervisordConfig().start())
        defer { h.signal(SIGCONT); h.stop() }
        h.signal(SIGSTOP)
        let start = ContinuousClock.now
        let r = try probe(h, "", timeout: "1s")
        #expect(ContinuousClock.now - start < .seconds(10), "a stopped supervisord never answers: the 1 s timeout was not kept")
        #expect(r.status == 3)
        #expect(r.json?.check("start")?.detail.contains("did not answer in time") == true, "\(r.out.stdout)")
    }

    @Test func hugeReplyIsCapped() throws {
        let dir = TempDir("fake")
        let server = try FakeServer(dir: dir) { c in
            BadSupervisordReplies.send(c, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 104857600\r\n\r\n")
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 16)
            for _ in 0..<1600 { if chunk.withUnsafeBytes({ write(c, $0.baseAddress, $0.count) }) <= 0 { break } }
            close(c)
        }
        let r = try probe(nil, "[start]\nprogram = start\n", serverURL: "unix://" + server.path, timeout: "3s")
        #expect(r.status == 3)
        #expect(r.json?.check("start")?.detail.contains("larger than") == true || r.json?.check("start")?.detail.contains("too large") == true,
                "\(r.out.stdout)")
    }

    @Test func socketOfAnotherUserIsPermissionDenied() throws {
        try #require(Platform.effectiveUserID == 0, "needs root to run the probe as nobody")
        try #require(Platform.isExecutable("/usr/bin/setpriv"), "needs setpriv (util-linux)")
        let h = try SupervisordHarness(SupervisordConfig().start())
        defer { h.stop() }
        let dir = TempDir("perm")
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[supervisor]\nsource = xmlrpc\nserverurl = \(h.serverURL)\n")
        let r = Command.run(["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                             TestPaths.binary, "run", "--config", conf])
        #expect(r.status == 3, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("permission denied"), "\(r.stdout)")
    }
}
