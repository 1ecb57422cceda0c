import ProbeTestSupport
import SupervisorKit
import Testing

@Suite struct SupervisorctlStatusFixtureTests {
    func processes(_ lines: [StatusLine]) -> [SupervisorProcess] {
        lines.compactMap { if case .process(let p) = $0 { p } else { nil } }
    }

    @Test(arguments: supervisorVersions)
    func settled(version: String) throws {
        let lines = SupervisorctlStatus.parse(try supervisorFixtureText("\(version)-status-settled.txt"))
        let procs = processes(lines)
        #expect(procs.count == lines.count)
        #expect(procs.map(\.namespec) == ["badstart", "chatty", "failfast", "longrun", "never", "rawlog", "start",
                                         "web:stubborn", "worker:worker_00", "worker:worker_01"])
        let states = Dictionary(uniqueKeysWithValues: procs.map { ($0.namespec, $0.state) })
        #expect(states["badstart"] == .exited)
        #expect(states["start"] == .exited)
        #expect(states["failfast"] == .fatal)
        #expect(states["never"] == .stopped)
        #expect(states["longrun"] == .running)
        let bad = procs[0], start = procs[6]
        // The text cannot tell the failed one-shot from the good one.
        #expect(bad.exitStatus == nil && start.exitStatus == nil)
        #expect(bad.description.hasPrefix("Nov 22 ") && bad.description.hasSuffix(" AM"))
        let ff = procs[2]
        #expect(ff.spawnError == "Exited too quickly (process log may have details)")
        #expect(ff.description == ff.spawnError)
        let web = procs[7]
        #expect(web.group == "web" && web.name == "stubborn" && web.pid > 0)
        #expect(web.description.hasPrefix("pid \(web.pid), uptime 0:00:0"))
        #expect(procs[4].description == "Not started")
    }

    @Test(arguments: supervisorVersions)
    func starting(version: String) throws {
        let text = try supervisorFixtureText("\(version)-status-starting.txt")
        #expect(text.contains("STARTING  \n"))  // trailing spaces are really there
        let procs = processes(SupervisorctlStatus.parse(text))
        #expect(procs.count == 10)
        let starting = procs.filter { $0.state == .starting }.map(\.namespec)
        #expect(starting == ["chatty", "longrun", "web:stubborn", "worker:worker_00", "worker:worker_01"])
        #expect(procs.filter { $0.state == .starting }.allSatisfy { $0.description.isEmpty })
        #expect(procs.first { $0.name == "failfast" }?.state == .backoff)
        #expect(procs.first { $0.name == "start" }?.state == .running)
    }

    @Test(arguments: supervisorVersions)
    func singleAndGroup(version: String) throws {
        let start = SupervisorctlStatus.parse(try supervisorFixtureText("\(version)-status-start.txt"))
        #expect(start.count == 1)
        guard case .process(let p) = start.first else { Issue.record("not a process: \(start)"); return }
        #expect(p.namespec == "start" && p.state == .exited)
        let group = processes(SupervisorctlStatus.parse(try supervisorFixtureText("\(version)-status-group.txt")))
        #expect(group.map(\.namespec) == ["web:stubborn"])
        #expect(group.first?.state == .running)
    }

    @Test(arguments: supervisorVersions)
    func errors(version: String) throws {
        #expect(SupervisorctlStatus.parse(try supervisorFixtureText("\(version)-status-nosuch.txt")) == [.noSuchProcess(name: "nosuch")])
        #expect(SupervisorctlStatus.parse(try supervisorFixtureText("\(version)-status-shutdown.txt")) == [.error(.shuttingDown)])
        #expect(SupervisorctlStatus.parse(try supervisorFixtureText("\(version)-status-down.txt"))
                == [.error(.noSocket(path: "/run/supervisor-fixture/\(version)/supervisor.sock"))])
    }
}

@Suite struct SupervisorctlStatusLineTests {
    @Test func otherLines() {
        #expect(SupervisorctlStatus.parseLine("web: ERROR (no such group)") == .noSuchGroup(name: "web"))
        #expect(SupervisorctlStatus.parseLine("web:x: ERROR (no such process)") == .noSuchProcess(name: "web:x"))
        #expect(SupervisorctlStatus.parseLine("unix:///tmp/s.sock refused connection") == .error(.connectionRefused(endpoint: "unix:///tmp/s.sock")))
        #expect(SupervisorctlStatus.parseLine("http://localhost:9001 refused connection") == .error(.connectionRefused(endpoint: "http://localhost:9001")))
        #expect(SupervisorctlStatus.parseLine("Server requires authentication") == .error(.authenticationRequired(endpoint: "")))
        #expect(SupervisorctlStatus.parseLine("error: <class 'xmlrpc.client.Fault'>, <Fault 10: 'BAD_NAME: x'>: file: /x.py line: 1")
                == .error(.fault(code: 10, string: "BAD_NAME: x")))
        #expect(SupervisorctlStatus.parseLine("error: <class 'PermissionError'>, [Errno 13] Permission denied: file: /x.py line: 1")
                .isPermissionDenied)
        #expect(SupervisorctlStatus.parseLine("error: <class 'xmlrpc.client.ProtocolError'>, <ProtocolError for 127.0.0.1/RPC2: 401 Unauthorized>: file: /x.py line: 539")
                == .error(.authenticationRequired(endpoint: "")))
        #expect(SupervisorctlStatus.parseLine("error: <class 'xmlrpc.client.ProtocolError'>, <ProtocolError for h:1/RPC2: 500 Internal Error>: file: x")
                == .error(.httpStatus(code: 500, reason: "Internal Error")))
        #expect(SupervisorctlStatus.parseLine("something odd") == .error(.supervisorctlFailed(output: "something odd")))
        // A name whose state word is not a state is not a process line.
        #expect(SupervisorctlStatus.parseLine("foo   RUNNINGX  pid 1") == .error(.supervisorctlFailed(output: "foo   RUNNINGX  pid 1")))
    }

    @Test func variableColumnWidths() {
        let long = String(repeating: "n", count: 40)
        let lines = SupervisorctlStatus.parse("\(long)   RUNNING   pid 12, uptime 1 day, 0:00:05\nx\tSTOPPED\tNot started\n\n")
        #expect(lines.count == 2)
        guard case .process(let a) = lines[0], case .process(let b) = lines[1] else { Issue.record("\(lines)"); return }
        #expect(a.name == long && a.pid == 12 && a.description == "pid 12, uptime 1 day, 0:00:05")
        #expect(b.name == "x" && b.state == .stopped && b.description == "Not started")
    }

    @Test func garbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab: \t\nRUNNING EXITED ERROR (no such process)<Fault 6: 'x'>error:unix://")
        for _ in 0..<500 {
            let s = String((0..<Int.random(in: 0...80, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            _ = SupervisorctlStatus.parse(s)
        }
    }
}

extension StatusLine {
    var isPermissionDenied: Bool {
        if case .error(let e) = self, e.code == .permissionDenied { return true }
        return false
    }
}
