// `readiness-probe state load`: write the unit's pid file, after an optional check command.
import ProbeState
import ProbeSupport

enum StateLoadCommand: CLICommand {
    static let name = "state load"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Write the unit's pid file (after running optional check commands).",
        usage: "[--pid N] [--unit U] [--rundir D] [--timeout D] [-- CHECK_CMD [ARG...]]",
        options: [OptionSpec("--pid", short: "-p", value: "N", help: "The pid to record (default: the parent process, e.g. a script's $$)."),
                  StateCommand.unitOption, StateCommand.rundirOption, CLI.configOption,
                  OptionSpec("--timeout", short: "-t", value: "DURATION", help: "Time limit of the check command (default 10s).")],
        discussion: "With `-- CHECK_CMD ...` the command runs first (argv, no shell); if it fails, nothing is written\nand the exit status is 5.",
        examples: [
            CommandExample("state load --unit syncd", "In syncd's start script: record the script's own pid ($$) for unit syncd."),
            CommandExample("state load --unit syncd --pid 4242 -- /usr/bin/syncd-ping -t 1",
                           "Record pid 4242 only if the check command exits 0."),
        ],
        takesRest: true)

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let s = try StateCommand.store(args, inv, spec)
        var pid = Platform.parentProcessID
        if let p = args.value("--pid") {
            guard let n = Int32(p), n > 0 else { throw spec.usageError("--pid must be a positive number, not \"\(p)\"") }
            pid = n
        }
        let timeout = try ArgumentParser.duration(args, "--timeout", spec) ?? .seconds(10)
        var checks: [any HealthCheck] = []
        if !args.rest.isEmpty { checks.append(CommandHealthCheck(argv: args.rest, timeout: timeout)) }
        do throws(AppStateError) { try s.load(pid: pid, checks: checks) } catch { throw StateCommand.fail(error, spec) }
        Platform.writeStdout("\(s.unit): pid \(pid) recorded in \(s.pidPath)\n")
        return 0
    }
}
