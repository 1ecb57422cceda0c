// `readiness-probe state show`: the unit's health, as text or JSON.
import ProbeState
import ProbeSupport

enum StateShowCommand: CLICommand {
    static let name = "state show"

    enum Format: String, CaseIterable { case text, json }
    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Print the unit's health; exit 0 if healthy, 5 if not.",
        usage: "[--unit U] [--rundir D] [--format text|json]",
        options: [StateCommand.unitOption, StateCommand.rundirOption, CLI.configOption,
                  .format(Format.self, help: "text (default) or json.")],
        examples: [CommandExample("state show --unit syncd", "Is syncd's recorded pid alive and its error code 0?"),
                   CommandExample("state show --unit syncd --format json", "The same, as JSON.")])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let format: Format = try ArgumentParser.choice(args, "--format", spec, default: .text)
        let s = try StateCommand.store(args, inv, spec)
        let health = s.evaluate()
        if format == .json {
            Platform.writeStdout(JSON.serialize(health.jsonValue) + "\n")
        } else {
            Platform.writeStdout("\(s.unit): \(health.isHealthy ? "healthy" : "unhealthy"): \(health.detail)\n")
        }
        return health.isHealthy ? 0 : Codes.appStateBad
    }
}
