// `readiness-probe validate`: load the configuration and say whether it is valid.
import ProbeSupport

enum ValidateCommand: CLICommand {
    static let name = "validate"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Validate the configuration: exit 0, or exit 8 with a file:line message.",
        usage: "[--config PATH]", options: [CLI.configOption],
        examples: [CommandExample("validate --config ./readiness-probe.conf", "Check a config file before installing it (exit 0, or 8 with file:line).")])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let config = try CLI.loadConfiguration(args, inv)
        // Beyond parsing: hooks that cannot run are errors (exit 8), timeouts the overall deadline
        // always cuts are warnings, and every hooks_dir entry that is not a hook is listed.
        let review = ConfigReview(config)
        var report = review.skipped.map { "skipped: \($0.path): \($0.reason)\n" }.joined()
        report += review.warnings.map { "warning: \($0)\n" }.joined()
        if !review.errors.isEmpty {
            Platform.writeStdout(report)
            throw ExitError(Codes.invalidConfig, review.errors.map { "readiness-probe: invalid configuration: \($0)" }.joined(separator: "\n"))
        }
        let files = config.document.files
        let what = files.isEmpty ? "no config file; built-in defaults" : files.joined(separator: ", ")
        Platform.writeStdout("ok: \(what): \(config.entries.count) check\(config.entries.count == 1 ? "" : "s")"
            + (config.entries.isEmpty ? "" : " (\(config.entries.map(\.name).joined(separator: ", ")))") + "\n" + report)
        return 0
    }
}
