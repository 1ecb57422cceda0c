// Which supervisord processes a run asks for (SupervisorQuery.needed), from the config alone.
// The live half (one system.multicall against a real supervisord) is in ReadinessProbeEndToEndTests.
import Testing
@testable import ReadinessProbe
import ProbeSupport

@Suite struct SupervisorQueryUnitTests {
    func entries(_ sections: String) throws -> [CheckEntry] {
        var doc = INIDocument()
        doc.sections = try INI.parse("[probe]\nhooks_dir =\nsonic_hook =\n" + sections, file: "t.conf")
        return try ProbeConfiguration.build(document: doc, configFile: nil, environment: [:]).entries
    }

    @Test func plainNamesAreAskedForAlone() throws {
        #expect(SupervisorQuery.needed(by: try entries("[start]\nprogram = start\n[programs]\ncritical = p1, p2, p1\n"))
                == .programs(["start", "p1", "p2"]))
        // The default start program, hooks and state checks need nothing more.
        #expect(SupervisorQuery.needed(by: try entries("[programs]\ncritical = p1\n[state:app]\n[hook:h]\ncommand = /bin/true\n"))
                == .programs(["start", "p1"]))
        #expect(SupervisorQuery.needed(by: try entries("[start]\nprogram =\n[hook:h]\ncommand = /bin/true\n")) == .programs([]))
        #expect(SupervisorQuery.needed(by: []) == .programs([]))
    }

    @Test func starGroupsAndUnknownChecksNeedEverything() throws {
        #expect(SupervisorQuery.needed(by: try entries("[programs]\ncritical = p1, *\n")) == .everything)
        #expect(SupervisorQuery.needed(by: try entries("[programs]\ncritical = group:worker\n")) == .everything)
        #expect(SupervisorQuery.needed(by: try entries("[start]\nprogram = g:start\n")) == .everything)
        #expect(SupervisorQuery.needed(by: try entries("[start]\nprogram = st*\n")) == .everything)
        // A check that does not say what it reads may read anything.
        let opaque = CheckEntry(name: "x", kind: "x", origin: "test", check: ClosureCheck { _ in .pass("ok") })
        #expect(SupervisorQuery.needed(by: try entries("[programs]\ncritical = p1\n") + [opaque]) == .everything)
    }
}
