// `readiness-probe validate`: load the configuration and say whether it is valid.

enum ValidateCommand: CLICommand {
    static let name = "validate"

    static let spec = CommandSpec(
        path: "readiness-probe validate", summary: "Validate the configuration: exit 0, or exit 8 with a file:line message.",
        usage: "[--config PATH]", options: [CLI.configOption],
        examples: [CommandExample("validate --config ./readiness-probe.conf", "Check a config file before installing it (exit 0, or 8 with file:line).")])

    static let command = CLI.Command(name: "validate", spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let config = try CLI.loadConfiguration(args, inv)
        let files = config.document.files
        let what = files.isEmpty ? "no config file; built-in defaults" : files.joined(separator: ", ")
        Platform.writeStdout("ok: \(what): \(config.entries.count) check\(config.entries.count == 1 ? "" : "s")"
            + (config.entries.isEmpty ? "" : " (\(config.entries.map(\.name).joined(separator: ", ")))") + "\n")
        return 0
    }
}
