// Asking supervisord only for the programs the checks name: one system.multicall of
// getProcessInfo instead of getAllProcessInfo, with the same verdicts. Against a real
// supervisord at loglevel=trace, whose log names every XML-RPC method called.
import Testing
import ProbeSupport
@testable import ReadinessProbe
import SupervisorKit
import ProbeTestSupport
import Glibc

@Suite(.serialized) struct SupervisorQueryTests {
    static let programs = SupervisordConfig()
        .start()
        .program("daemon", command: "sleep 300")
        .program("stopme", command: "sleep 300")
        .program("worker", command: "sleep 300", [("numprocs", "2"), ("process_name", "%(program_name)s_%(process_num)02d")])

    func config(_ h: SupervisordHarness, _ sections: String) throws -> ProbeConfiguration {
        var doc = INIDocument()
        doc.sections = try INI.parse("[probe]\ntimeout = 30s\nhooks_dir =\nsonic_hook =\n[supervisor]\nsource = xmlrpc\nserverurl = \(h.serverURL)\n"
                                     + sections, file: "t.conf")
        return try ProbeConfiguration.build(document: doc, configFile: nil, environment: [:])
    }

    /// Runs the config's checks as configured (named programs) and again with a check that needs
    /// everything beside them (getAllProcessInfo): same rows, and the methods supervisord saw.
    func sameVerdicts(_ h: SupervisordHarness, _ sections: String, methods expected: [String],
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> ProbeReport {
        let c = try config(h, sections)
        #expect(SupervisorQuery.needed(by: c.entries) != .everything, sourceLocation: sourceLocation)
        let start = h.xmlrpcMethods().end
        let began = ContinuousClock.now
        let narrow = await ProbeRunner.run(c.entries, settings: c.settings)
        // The run ends when its answers are in, not at its deadline (30 s below), also when the
        // multicall falls back to getAllProcessInfo on a thread (it once waited for the deadline).
        #expect(ContinuousClock.now - began < .seconds(15), "\(sections)", sourceLocation: sourceLocation)
        let (named, mid) = h.xmlrpcMethods(since: start)
        #expect(named == expected, "\(sections)", sourceLocation: sourceLocation)

        let opaque = CheckEntry(name: "opaque", kind: "test", origin: "test", check: ClosureCheck { _ in .pass("ok") })
        let wide = await ProbeRunner.run(c.entries + [opaque], settings: c.settings)
        #expect(h.xmlrpcMethods(since: mid).methods == ["supervisor.getAllProcessInfo"], sourceLocation: sourceLocation)
        #expect(narrow.code == wide.code, "\(sections)", sourceLocation: sourceLocation)
        for (n, w) in zip(narrow.results, wide.results) {
            #expect(n.name == w.name && n.status == w.status && n.code == w.code && n.detail == w.detail && n.summary == w.summary,
                    "\(sections): \(n) vs \(w)", sourceLocation: sourceLocation)
        }
        return narrow
    }

    func row(_ r: ProbeReport, _ name: String) -> CheckResult? { r.results.first { $0.name == name } }

    @Test func namedProgramsTakeOneMulticallWithTheSameVerdicts() async throws {
        let h = try SupervisordHarness(Self.programs, loglevel: "trace")
        defer { h.stop() }
        #expect(h.waitFor(program: "start", state: "EXITED"))
        #expect(h.waitFor(program: "daemon", state: "RUNNING"))
        #expect(h.waitFor(program: "worker:worker_01", state: "RUNNING"))
        _ = h.supervisorctl(["stop", "stopme", "worker:worker_00"])
        #expect(h.waitFor(program: "stopme", state: "STOPPED"))
        #expect(h.waitFor(program: "worker:worker_00", state: "STOPPED"))
        let one = ["system.multicall"]
        let fallback = ["system.multicall", "supervisor.getAllProcessInfo"]

        // Every name is a program of its own: one round trip.
        let ok = try await sameVerdicts(h, "[start]\nprogram = start\n[programs]\ncritical = daemon\n", methods: one)
        #expect(ok.code == 0)
        #expect(row(ok, "start")?.detail == "start exited 0")
        #expect(row(ok, "programs")?.detail == "1 critical program RUNNING")
        let stopped = try await sameVerdicts(h, "[start]\nprogram = start\n[programs]\ncritical = daemon, stopme\n", methods: one)
        #expect(stopped.code == 4)
        #expect(row(stopped, "programs")?.detail.hasPrefix("program stopme is STOPPED") == true)

        // A group member by its name: BAD_NAME for getProcessInfo, so the whole list decides.
        let member = try await sameVerdicts(h, "[start]\nprogram = start\n[programs]\ncritical = worker_01\n", methods: fallback)
        #expect(member.code == 0)
        #expect(row(member, "programs")?.detail == "1 critical program RUNNING")
        let memberDown = try await sameVerdicts(h, "[start]\nprogram = start\n[programs]\ncritical = daemon, worker_00\n",
                                                methods: fallback)
        #expect(memberDown.code == 4)
        #expect(row(memberDown, "programs")?.detail.hasPrefix("program worker:worker_00 is STOPPED") == true)

        // A missing start program (SONiC: allowed unless required) and an unknown critical one.
        let noStart = try await sameVerdicts(h, "[start]\nprogram = nosuch\n[programs]\ncritical = daemon\n", methods: fallback)
        #expect(noStart.code == 0)
        #expect(row(noStart, "start")?.detail == "no program nosuch in supervisord (not required)")
        let required = try await sameVerdicts(h, "[start]\nprogram = nosuch\nrequired = true\n", methods: fallback)
        #expect(required.code == 2)
        let ghost = try await sameVerdicts(h, "[start]\nprogram = start\n[programs]\ncritical = ghost\n", methods: fallback)
        #expect(ghost.code == 4)
        #expect(row(ghost, "programs")?.detail.hasSuffix(": ghost: no such program in supervisord") == true)

        // Through the binary: one request for the start program and two critical ones.
        let before = h.xmlrpcMethods().end
        let r = try probe(h, "[start]\nprogram = start\n[programs]\ncritical = daemon, stopme\n")
        #expect(r.status == 4, "\(r.out.stdout)")
        #expect(h.xmlrpcMethods(since: before).methods == one)
    }

    @Test func shutdownStateInsideTheMulticallIsCode3() throws {
        let h = try SupervisordHarness(SupervisordConfig().start().stubborn(), loglevel: "trace")
        defer { h.stop() }
        #expect(h.waitUntilStubbornIgnoresTERM())
        let sections = "[start]\nprogram = start\n[programs]\ncritical = stubborn\n"
        let up = try probe(h, sections)
        #expect(up.status == 0, "\(up.out.stdout)")
        h.signal(SIGTERM)
        // While stubborn holds up the stop, each getProcessInfo inside the multicall faults with SHUTDOWN_STATE.
        var offset = h.xmlrpcMethods().end
        var seen: [String] = []
        var r: (status: Int32, json: JSONValue?, out: CommandResult)? = nil
        #expect(Wait.until(timeout: .seconds(4)) {
            offset = h.xmlrpcMethods().end
            r = try? probe(h, sections)
            seen = h.xmlrpcMethods(since: offset).methods
            return r?.json?.check("start")?.detail.contains("shutting down") == true
        })
        #expect(r?.status == 3)
        #expect(r?.json?.check("start")?.detail == "supervisord is shutting down (SHUTDOWN_STATE)")
        #expect(r?.json?.check("programs")?.code == 3)
        #expect(seen == ["system.multicall"])
        #expect(h.waitForExit(timeout: .seconds(15)))
    }
}
