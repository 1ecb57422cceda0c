// Tests against a real supervisord (each with its own folder and socket).
@preconcurrency import Glibc
import ProbeHTTP
import ProbeSupport
import ProbeTestSupport
import SupervisorKit
import Testing

func client(_ h: SupervisordHarness, username: String? = nil, password: String? = nil) throws -> SupervisorClient {
    SupervisorClient(url: try SupervisorServerURL(parsing: h.serverURL), username: username, password: password)
}

func soon() -> Deadline { .after(.seconds(5)) }

@Suite(.serialized) struct LiveSupervisordTests {
    static let mixedPrograms = SupervisordConfig()
        .program("okshot", command: "sh -c 'sleep 0.3; exit 0'", autorestart: false)
        .program("badshot", command: "sh -c 'sleep 0.3; exit 1'", autorestart: false)
        .program("daemon", command: "sleep 100000")
        .program("crashy", command: "sh -c 'exit 1'", startsecs: 1, startretries: 1)
        .program("stubborn", command: "sleep 100000")
        .group("web", programs: ["stubborn"])

    @Test func processInfoAndStatusAgree() throws {
        let h = try SupervisordHarness(Self.mixedPrograms)
        defer { h.stop() }
        let c = try client(h)
        var procs: [SupervisorProcess] = []
        let settled = try Wait.until(timeout: .seconds(20), every: .milliseconds(100)) {
            procs = try c.getAllProcessInfo(deadline: soon())
            let s = Dictionary(uniqueKeysWithValues: procs.map { ($0.namespec, $0.state) })
            return s["okshot"] == .exited && s["badshot"] == .exited && s["daemon"] == .running
                && s["crashy"] == .fatal && s["web:stubborn"] == .running
        }
        #expect(settled, "never settled: \(procs.map { "\($0.namespec)=\($0.state.name)" })")
        let byName = Dictionary(uniqueKeysWithValues: procs.map { ($0.namespec, $0) })
        #expect(byName["okshot"]?.exitStatus == 0)
        #expect(byName["badshot"]?.exitStatus == 1)
        #expect(byName["badshot"]?.spawnError == "Bad exit code 1")
        #expect(byName["crashy"]?.spawnError == "Exited too quickly (process log may have details)")
        #expect((byName["daemon"]?.pid ?? 0) > 0)
        #expect(byName["web:stubborn"]?.group == "web")

        // supervisorctl shows both one-shots as EXITED with only a date; its parsed text agrees with XML-RPC.
        let r = h.supervisorctl(["status"])
        #expect(r.status == 3, "supervisorctl exits 3 with EXITED/FATAL processes: \(r)")
        let lines = SupervisorctlStatus.parse(r.stdout)
        let fromText: [(String, ProcessState)] = lines.compactMap {
            if case .process(let p) = $0 { (p.namespec, p.state) } else { nil }
        }
        #expect(fromText.count == lines.count)
        #expect(fromText.map(\.0) == procs.map(\.namespec))
        #expect(fromText.map(\.1) == procs.map(\.state))
        let okText = lines.compactMap { if case .process(let p) = $0, p.name == "okshot" { p } else { nil } }.first
        let badText = lines.compactMap { if case .process(let p) = $0, p.name == "badshot" { p } else { nil } }.first
        #expect(okText?.exitStatus == nil && badText?.exitStatus == nil)
        #expect(okText?.description.count == badText?.description.count)  // both a date like "Nov 22 01:53 AM"

        // Discovery from the harness's supervisord.conf finds the same server.
        let loc = try SupervisorDiscovery.locate(configFile: h.configPath, environment: [:])
        #expect(loc.url == .unix(path: h.socketPath))
        #expect(loc.how == "\(h.configPath) [supervisorctl] serverurl")
        #expect(try SupervisorClient(location: loc).getAllProcessInfo(deadline: soon()).map(\.namespec) == procs.map(\.namespec))

        // Other calls on the same server.
        #expect(try c.getState(deadline: soon()) == SupervisorState(code: 1, name: "RUNNING"))
        #expect(try c.getPID(deadline: soon()) == Int(h.pid))
        #expect(try c.getProcessInfo("web:stubborn", deadline: soon()).state == .running)
        #expect(throws: SupervisorError.fault(code: 10, string: "BAD_NAME: nosuch")) {
            try c.getProcessInfo("nosuch", deadline: soon())
        }
        let multi = try c.multicall([("supervisor.getState", []), ("supervisor.getProcessInfo", [.string("nosuch")]),
                                     ("supervisor.getAllProcessInfo", [])], deadline: soon())
        #expect(multi.count == 3)
        if case .success(let st) = multi[0] { #expect(try SupervisorState(xmlrpc: st).isRunning) } else { Issue.record("\(multi[0])") }
        if case .failure(let e) = multi[1] { #expect(e == .fault(code: 10, string: "BAD_NAME: nosuch")) } else { Issue.record("\(multi[1])") }
        if case .success(let all) = multi[2] { #expect(try SupervisorProcess.list(fromProcessInfo: all).count == 5) } else { Issue.record("\(multi[2])") }
        let nosuch = SupervisorctlStatus.parse(h.supervisorctl(["status", "nosuch"]).stdout)
        #expect(nosuch == [.noSuchProcess(name: "nosuch")])
    }

    @Test func authentication() throws {
        let h = try SupervisordHarness(SupervisordConfig().program("daemon", command: "sleep 100000"),
                                       username: "user", password: "123", supervisorctlCredentials: false)
        defer { h.stop() }
        #expect(try client(h, username: "user", password: "123").getState(deadline: soon()).isRunning)
        #expect(throws: SupervisorError.authenticationFailed(endpoint: h.serverURL, username: "user")) {
            try client(h, username: "user", password: "wrong").getState(deadline: soon())
        }
        #expect(throws: SupervisorError.authenticationRequired(endpoint: h.serverURL)) {
            try client(h).getState(deadline: soon())
        }
        // supervisorctl without credentials says so, and the status parser classifies it.
        let r = h.supervisorctl(["status"])
        let lines = SupervisorctlStatus.parse(r.stdout + "\n" + r.stderr)
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0 == .error(.authenticationRequired(endpoint: "")) }, "\(r)")
    }

    @Test func shutdownStateThenGone() throws {
        let h = try SupervisordHarness(SupervisordConfig().stubborn())
        defer { h.stop() }
        let c = try client(h)
        #expect(h.waitUntilStubbornIgnoresTERM())
        h.signal(SIGTERM)
        var last: SupervisorError?
        let sawShutdown = Wait.until(timeout: .seconds(4), every: .milliseconds(20)) {
            do throws(SupervisorError) {
                _ = try c.getState(deadline: soon())
                return false
            } catch {
                last = error
                return error == .shuttingDown
            }
        }
        #expect(sawShutdown, "last: \(String(describing: last))")
        #expect(throws: SupervisorError.shuttingDown) { try c.getAllProcessInfo(deadline: soon()) }
        let r = h.supervisorctl(["status"])
        #expect(SupervisorctlStatus.parse(r.stdout) == [.error(.shuttingDown)], "\(r)")
        #expect(h.isRunning)

        #expect(h.waitForExit(timeout: .seconds(15)), "supervisord did not exit")
        #expect(throws: SupervisorError.noSocket(path: h.socketPath)) { try c.getState(deadline: soon()) }
        let down = h.supervisorctl(["status"])
        #expect(SupervisorctlStatus.parse(down.stdout) == [.error(.noSocket(path: h.socketPath))], "\(down)")
        #expect(SupervisorError.noSocket(path: h.socketPath).description
                == "supervisord socket \(h.socketPath) does not exist (supervisord is not running?)")
    }

    @Test func staleSocketAfterKill() throws {
        let h = try SupervisordHarness(SupervisordConfig())
        defer { h.stop() }
        let c = try client(h)
        #expect(try c.getState(deadline: soon()).isRunning)
        h.signal(SIGKILL)
        #expect(h.waitForExit(timeout: .seconds(5)))
        #expect(Platform.exists(h.socketPath), "a killed supervisord leaves its socket")
        #expect(throws: SupervisorError.connectionRefused(endpoint: h.serverURL)) { try c.getState(deadline: soon()) }
        let r = h.supervisorctl(["status"])
        #expect(SupervisorctlStatus.parse(r.stdout) == [.error(.connectionRefused(endpoint: h.serverURL))], "\(r)")
    }

    @Test func stoppedSupervisordTimesOut() throws {
        let h = try SupervisordHarness(SupervisordConfig())
        defer { h.signal(SIGCONT); h.stop() }
        let c = try client(h)
        h.signal(SIGSTOP)
        let started = ContinuousClock.now
        do {
            _ = try c.getState(deadline: .after(.milliseconds(300)))
            Issue.record("a stopped supervisord answered")
        } catch {
            guard error.code == .timedOut else { Issue.record("\(error)"); return }
            #expect(error.description.hasPrefix("supervisord did not answer in time ("))
        }
        #expect(ContinuousClock.now - started < .seconds(10), "a stopped supervisord never answers: the 300 ms deadline was not kept")
        h.signal(SIGCONT)
        #expect(try c.getState(deadline: soon()).isRunning)
    }
}

@Suite struct ClientSocketTests {
    @Test func closedTCPPortIsRefused() {
        let c = SupervisorClient(url: .http(host: "127.0.0.1", port: 1))
        #expect(throws: SupervisorError.connectionRefused(endpoint: "http://127.0.0.1:1")) { try c.getState(deadline: soon()) }
    }
}

/// The end-to-end tests run the project's supervisord (`SUPERVISOR_VERSION` in the Makefile, in
/// .venv), whatever supervisord is first on PATH; another one only when named on purpose.
@Suite struct PinnedSupervisordTests {
    static func realPath(_ p: String) -> String {
        guard let r = realpath(p, nil) else { return p }
        defer { free(r) }
        return String(cString: r)
    }

    @Test func harnessRunsThePinnedSupervisord() throws {
        let path = try #require(SupervisordHarness.findSupervisord(), "no supervisord: run `make venv`")
        let version = Command.run([path, "--version"], timeout: .seconds(60)).stdout.trimmingASCIIWhitespace()
        let pinnedPath = Self.realPath(TestPaths.packageRoot + "/.venv/bin/supervisord")
        let pinned = try #require(SupervisordHarness.pinnedVersion, "SUPERVISOR_VERSION not found in the Makefile")
        if let chosen = Platform.environment("READINESS_PROBE_SUPERVISORD"), !chosen.isEmpty, Self.realPath(chosen) != pinnedPath {
            print("end-to-end tests against supervisord \(version) at \(chosen), not the pinned \(pinned)")
            #expect(Self.realPath(path) == Self.realPath(chosen))
            return
        }
        #expect(Self.realPath(path) == pinnedPath)
        #expect(version == pinned, "\(path) is supervisord \(version); the project pins \(pinned): run `make venv`")
    }
}

/// SupervisorPendingCall (the executor's supervisord call on its own poll loop) gives what `call` gives.
@Suite(.serialized) struct PendingCallTests {
    func drive(_ p: SupervisorPendingCall) throws(SupervisorError) -> XMLRPCValue {
        let deadline = soon()
        while true {
            if let v = try p.value() { return v }
            var pfd = pollfd(fd: p.fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, deadline.pollTimeout) == 0 { throw p.timedOut }
        }
    }

    @Test func sameValuesAndFaultsAsCall() throws {
        let h = try SupervisordHarness(SupervisordConfig().program("a", command: "sleep 100000").program("b", command: "sleep 100000"))
        defer { h.stop() }
        let c = try client(h)
        let ready = try Wait.until(timeout: .seconds(20), every: .milliseconds(100)) {
            try c.getAllProcessInfo(deadline: soon()).allSatisfy { $0.state == .running }
        }
        #expect(ready)
        let all = try SupervisorProcess.list(fromProcessInfo: drive(try c.begin(method: "supervisor.getAllProcessInfo", deadline: soon())))
        #expect(all.map(\.namespec) == ["a", "b"])
        #expect(all.map(\.pid) == (try c.getAllProcessInfo(deadline: soon())).map(\.pid))

        let calls: [(method: String, params: [XMLRPCValue])] = [("supervisor.getProcessInfo", [.string("b")]), ("supervisor.getProcessInfo", [.string("nosuch")])]
        let v = try drive(try c.begin(method: "system.multicall", params: [SupervisorClient.multicallParam(calls)], deadline: soon()))
        let results = try SupervisorClient.multicallResults(v, count: 2)
        guard case .success(let b) = results[0], case .failure(let bad) = results[1] else {
            Issue.record("expected a process and a fault: \(results)")
            return
        }
        #expect(try SupervisorProcess(processInfo: b).namespec == "b")
        #expect(bad.code == .fault)
        #expect(throws: SupervisorError.self) { _ = try drive(try c.begin(method: "supervisor.noSuchMethod", deadline: soon())) }
    }

    @Test func stoppedSupervisordTimesOutWithTheCallsError() throws {
        let h = try SupervisordHarness(SupervisordConfig().program("a", command: "sleep 100000"))
        defer { h.stop() }
        let c = try client(h)
        _ = try c.getState(deadline: soon())
        h.signal(SIGSTOP)
        defer { h.signal(SIGCONT) }
        let p = try c.begin(method: "supervisor.getAllProcessInfo", deadline: soon())
        #expect(try p.value() == nil)
        #expect(p.timedOut == .timedOut(phase: "waiting for the reply"))
        p.close()
        #expect(p.fd == -1)
    }
}
