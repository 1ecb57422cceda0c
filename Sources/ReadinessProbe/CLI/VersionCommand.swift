// `readiness-probe version`: the same as `--version` and `-V`.
import ProbeSupport

enum VersionCommand: CLICommand {
    static let name = "version"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Print the version (as --version and -V do).", usage: "", options: [],
        examples: [CommandExample("version", "Prints `readiness-probe \(ProbeVersion.string)`.")])

    static let command = CLI.Command(name: name, spec: spec) { (_, _) throws(ExitError) -> Int32 in
        Platform.writeStdout("readiness-probe \(ProbeVersion.string)\n")
        return 0
    }
}
