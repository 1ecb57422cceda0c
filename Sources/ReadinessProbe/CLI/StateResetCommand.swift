// `readiness-probe state reset`: remove the unit's pid and error files.
import ProbeState
import ProbeSupport

enum StateResetCommand: CLICommand {
    static let name = "state reset"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Remove the unit's pid and error files.",
        usage: "[--unit U] [--rundir D]", options: [StateCommand.unitOption, StateCommand.rundirOption, CLI.configOption],
        examples: [CommandExample("state reset --unit syncd", "Before a restart: forget syncd's pid and error code.")])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let s = try StateCommand.store(args, inv, spec)
        do throws(AppStateError) { try s.reset() } catch { throw StateCommand.fail(error, spec) }
        return 0
    }
}
