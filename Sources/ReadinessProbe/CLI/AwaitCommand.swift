// `readiness-probe await`: ready-gated start-up; waits for programs (RUNNING, READY=1), then
// execs a command in its own process. docs/notify.md is the manual.
import ProbeSupport

@preconcurrency import Glibc

enum AwaitCommand: CLICommand {
    static let name = "await"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)",
        summary: "Wait until programs are ready, then exec a command (ready-gated start-up).",
        usage: "[--timeout D] [--config PATH] NAME[:running|:exited]... -- COMMAND [ARGS...]",
        options: [
            OptionSpec("--timeout", short: "-t", value: "DURATION", help: "How long to wait in all (default 300s); then exit 9."),
            CLI.configOption,
        ],
        maxPositionals: 64,
        discussion: """
            NAME is a program or group:NAME, optionally with :running (RUNNING is enough) or :exited (a one-shot
            that EXITED with a status in [start] exitcodes). Without a suffix, a program is ready when it is RUNNING and, if [programs] notify names it,
            has sent READY=1 since its start (and is not reloading, stopping or past its watchdog); the start program
            ([start] program) is ready once it has EXITED with a status in its exitcodes. Reads the event listener's
            ledger (no supervisord polling while the listener runs; XML-RPC otherwise, under source = auto).
            When every NAME is ready, execs COMMAND in this process (same pid: supervisord keeps tracking it).
            Progress: one line per change on stderr. Exit 9 at the deadline without running COMMAND; 8 for a bad
            command line; 127 (126) when COMMAND cannot be found (run).
            In supervisord.conf: command=readiness-probe await syncd -- /usr/bin/orchagent ...
            """,
        examples: [
            CommandExample("await syncd group:swss -- /usr/bin/orchagent -d /var/log", "Start orchagent once syncd and swss are ready."),
            CommandExample("await --timeout 60s init:exited redis -- /usr/bin/worker", "After a one-shot init and a ready redis; exit 9 after 60s."),
        ],
        takesRest: true)

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let total = try ArgumentParser.duration(args, "--timeout", spec) ?? .seconds(300)
        if args.positionals.isEmpty { throw spec.usageError("name at least one program or group:NAME to wait for") }
        if args.rest.isEmpty { throw spec.usageError("give the command to run after --") }
        let config = try CLI.loadConfiguration(args, inv)
        /// What a NAME waits for: ready (the default), RUNNING only (`:running`), or EXITED with a
        /// status in the [start] exitcodes (`:exited`), as supervisord-dependent-startup's states.
        enum Want: String { case ready, running, exited }
        var selectors: [(ProgramsCheck.Selector, Want, String)] = []
        for n in args.positionals {
            var name = n
            var want = Want.ready
            for w in [Want.running, .exited, .ready] where n.hasSuffix(":" + w.rawValue) {
                name = String(n.dropLast(w.rawValue.count + 1))
                want = w
            }
            do throws(ConfigError) {
                let sel = try ProgramsCheck.parseSelector(name, at: FileLocation(file: "command line", line: 0))
                if sel == .all { throw ConfigError("name programs or group:NAME, not *", at: nil) }
                if want == .exited, case .group = sel { throw ConfigError("\(n): :exited takes a program, not a group", at: nil) }
                selectors.append((sel, want, n))
            } catch {
                throw spec.usageError("\(error)")
            }
        }
        let watched = WatchedPrograms.of(config.entries)
        let start = watched.start ?? StartCheck()
        let deadline = Deadline.after(total)
        let began = ContinuousClock.now
        var last = ""
        while true {
            let snapshot = fetch(config.settings)
            var waiting: [String] = []
            for (sel, want, text) in selectors {
                let outcome: CheckOutcome
                if case .program(let n) = sel, want == .exited || (want == .ready && n == start.program) {
                    var one = start
                    one.program = n
                    one.required = true
                    outcome = one.verdict(snapshot)
                } else {
                    var check = ProgramsCheck(selectors: [sel], startProgram: start.program,
                                              notify: want == .running ? [] : watched.notify,
                                              watchdog: watched.watchdog)
                    check.selectors = [sel]  // only this NAME (the init adds every notify program)
                    outcome = check.verdict(snapshot, settings: config.settings)
                }
                if outcome.status == .fail { waiting.append("\(text): \(outcome.summary ?? outcome.detail)") }
            }
            let seconds = Decimal1.format(Double((ContinuousClock.now - began).milliseconds) / 1000, digits: 1, fixed: true)
            if waiting.isEmpty {
                Platform.writeStderr("await: \(seconds)s: \(args.positionals.joined(separator: ", ")) ready; exec \(args.rest[0])\n")
                return exec(args.rest)
            }
            let line = waiting.joined(separator: "; ")
            if line != last {
                Platform.writeStderr("await: \(seconds)s: waiting for \(line)\n")
                last = line
            }
            if deadline.hasPassed {
                Platform.writeStderr("await: not ready after \(DurationText.format(total)): \(line); \(args.rest[0]) not started\n")
                return Codes.deadlineExceeded
            }
            Platform.sleep(milliseconds: Int(min(50, max(1, deadline.remaining.milliseconds))))
        }
    }

    /// The ledger when it can be trusted; otherwise, under auto/xmlrpc/supervisorctl, supervisord itself.
    static func fetch(_ settings: ProbeSettings) -> Result<SupervisorSnapshot, SupervisorFailure> {
        switch settings.supervisor.source {
        case .events: return LedgerSource.snapshot(settings)
        default: return SupervisorView.fetchBlocking(settings, deadline: .after(.seconds(2)))
        }
    }

    /// execvp(argv); returns only on failure: 127 when not found, else 126 (as a shell).
    static func exec(_ argv: [String]) -> Int32 {
        var cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        execvp(argv[0], &cargv)
        let e = Platform.errno
        for a in cargv { free(a) }
        Platform.writeStderr("readiness-probe await: cannot run \(argv[0]): \(Platform.describe(errno: e))\n")
        return e == ENOENT ? 127 : 126
    }
}
