// `readiness-probe state set CODE`: write the unit's error code.
import ProbeState
import ProbeSupport

enum StateSetCommand: CLICommand {
    static let name = "state set"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Write the unit's error code (0 = healthy).",
        usage: "[--unit U] [--rundir D] [--] CODE",
        options: [StateCommand.unitOption, StateCommand.rundirOption, CLI.configOption], maxPositionals: 1,
        discussion: "CODE is an integer; a negative one may follow `--` (`state set -- -1`) or stand alone (`state set -1`).",
        examples: [
            CommandExample("state set --unit syncd 0", "Mark unit syncd healthy."),
            CommandExample("state set --unit syncd -- -1", "Mark it unhealthy with code -1."),
        ])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        guard let text = args.positionals.first else { throw spec.usageError("CODE is missing") }
        guard let code = Int(text) else { throw spec.usageError("CODE must be an integer, not \"\(text)\"") }
        let s = try StateCommand.store(args, inv, spec)
        do throws(AppStateError) { try s.set(error: code) } catch { throw StateCommand.fail(error, spec) }
        return 0
    }
}
