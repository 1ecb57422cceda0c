import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import SupervisorKit

@Suite struct ConfigTests {
    func load(_ text: String, extra: [String: String] = [:]) throws -> ProbeConfiguration {
        let dir = TempDir("cfg")
        for (name, body) in extra { try dir.write(name, body) }
        let path = try dir.write("rp.conf", text)
        return try ProbeConfiguration.load(explicitPath: path, environment: [:])
    }

    func expectError(_ text: String, line: Int?, _ fragment: String, extra: [String: String] = [:],
                     sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        do {
            _ = try load(text, extra: extra)
            Issue.record("expected a config error", sourceLocation: sourceLocation)
        } catch let e as ConfigError {
            #expect(e.location?.line == line, "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func defaultsWithNoFile() throws {
        let c = try ProbeConfiguration.load(explicitPath: nil, environment: ["READINESS_PROBE_CONFIG": ""])
        #expect(c.entries.first?.name == "start")
        #expect(c.settings.timeout == .seconds(5))
    }

    /// `[program:NAME] watchdog = / on_watchdog =`: a notify program's own watchdog (docs/notify.md).
    @Test func perProgramWatchdogSections() throws {
        let c = try load("[programs]\nnotify = dog, group:swss\nwatchdog = 30s\n[program:dog]\nwatchdog = 2s\non_watchdog = restart\n"
                         + "[program:swss:orch]\nwatchdog = 0\n[hook:x]\ncommand = /bin/true\n")
        let check = try #require(c.entries.compactMap { $0.check as? ProgramsCheck }.first)
        func p(_ name: String, _ group: String) -> SupervisorProcess { SupervisorProcess(name: name, group: group, state: .running) }
        #expect(check.watchdog(for: p("dog", "dog")) == .seconds(2) && check.restartsOnWatchdog(p("dog", "dog")))
        #expect(check.watchdog(for: p("orch", "swss")) == nil && !check.restartsOnWatchdog(p("orch", "swss")))
        #expect(check.watchdog(for: p("other", "swss")) == .seconds(30))
        expectError("[programs]\nnotify = dog\n[program:dog]\nwatchdog = 2s\nrestart = yes\n", line: 5, "unknown key \"restart\" in [program:dog]")
        expectError("[programs]\nnotify = dog\n[program:dog]\non_watchdog = reboot\n", line: 4, "on_watchdog must be restart or none")
        expectError("[programs]\nnotify = dog\n[program:dog]\nwatchdog = soon\n", line: 4, "watchdog:")
        expectError("[programs]\nnotify = dog\ncritical = cat\n[program:cat]\nwatchdog = 2s\n", line: 4, "which [programs] notify does not name")
        expectError("[hook:x]\ncommand = /bin/true\n[program:dog]\nwatchdog = 2s\n", line: 3, "there is no [programs] notify = dog")
    }

    @Test func missingExplicitFileIsAnError() {
        #expect(throws: ConfigError.self) { try ProbeConfiguration.load(explicitPath: "/nonexistent/rp.conf", environment: [:]) }
        #expect(throws: ConfigError.self) {
            try ProbeConfiguration.load(explicitPath: nil, environment: ["READINESS_PROBE_CONFIG": "/nonexistent/x.conf"])
        }
    }

    @Test func fullExample() throws {
        let c = try load("""
        [probe]
        timeout = 4s
        hooks_dir =
        sonic_hook =
        [start]
        program = init
        exitcodes = 0, 2
        [programs]
        critical = syncd, group:swss
        [hook:b]
        command = /bin/true
        timeout = 250ms
        severity = warn
        [hook:a]
        command = /bin/echo 'a b'
        """)
        #expect(c.settings.timeout == .seconds(4))
        #expect(c.entries.map(\.name) == ["start", "programs", "b", "a"])
        #expect(c.entries[2].severity == .warn && c.entries[2].timeout == .milliseconds(250))
        #expect((c.entries[3].check as? HookCheck)?.argv == ["/bin/echo", "a b"])
        #expect((c.entries[0].check as? StartCheck)?.exitCodes == [0, 2])
        #expect((c.entries[1].check as? ProgramsCheck)?.selectors == [.program("syncd"), .group("swss")])
    }

    @Test func errorsNameFileAndLine() {
        expectError("[probe]\ntimeout = 5x\n", line: 2, "invalid duration")
        expectError("[probe]\nbogus = 1\n", line: 2, "unknown key \"bogus\" in [probe]")
        expectError("[nosuch]\n", line: 1, "unknown section [nosuch]")
        expectError("[hook:a]\ncommand = /bin/true\nwhat = 1\n", line: 3, "unknown key \"what\"")
        expectError("[hook:a]\ntimeout = 1s\n", line: 1, "needs command")
        expectError("[hook]\ncommand = /bin/true\n", line: 1, "needs a name")
        expectError("[hook:a]\ncommand = '/bin/true\n", line: 2, "unterminated single quote")
        expectError("[hook:a]\ncommand = /bin/true\nseverity = loud\n", line: 3, "severity must be fail or warn")
        expectError("[hook:a]\ncommand = /bin/true\noptional = maybe\n", line: 3, "must be true or false")
        expectError("[start]\nexitcodes = 0, x\n", line: 2, "exitcodes")
        expectError("[start:x]\n", line: 1, "takes no name")
        expectError("[supervisor]\nsource = magic\n", line: 2, "source must be one of")
        expectError("[supervisor]\nserverurl = ftp://x\n", line: 2, "serverurl must start with")
        expectError("[probe]\ntimeout = 0s\n", line: 2, "greater than 0")
        expectError("[include]\nfiles = nothere.conf\n", line: 2, "does not exist")
    }

    @Test func criticalFileErrorsNameItsOwnLine() throws {
        let dir = TempDir("cfg")
        let crit = try dir.write("critical_processes", "program:syncd\n\ngroup:swss\nbogus line\n")
        let path = try dir.write("rp.conf", "[programs]\ncritical_file = \(crit)\n")
        do {
            _ = try ProbeConfiguration.load(explicitPath: path, environment: [:])
            Issue.record("expected error")
        } catch {
            #expect(error.location == FileLocation(file: crit, line: 4))
        }
        try dir.write("critical_processes", "program:syncd\n# comment\ngroup:swss\n")
        let c = try ProbeConfiguration.load(explicitPath: path, environment: [:])
        #expect((c.entries.first { $0.name == "programs" }?.check as? ProgramsCheck)?.selectors == [.program("syncd"), .group("swss")])
    }
}

@Suite struct CLITests {
    @Test func everyCommandNameFindsItsCommand() {
        #expect(CLI.commands.map(\.name) == CLI.names)
        #expect(CLI.command(named: "state") == nil && CLI.command(named: "nosuch") == nil)
    }
}
