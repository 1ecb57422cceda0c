// `readiness-probe validate`: load the configuration and say whether it is valid.
import ProbeSupport

enum ValidateCommand: CLICommand {
    static let name = "validate"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Validate the configuration: exit 0, or exit 8 with a file:line message.",
        usage: "[--config PATH]", options: [CLI.configOption],
        discussion: """
        Beyond parsing: hooks that cannot run are errors, and so are critical programs and groups (critical,
        critical_file) that supervisord does not have, when supervisord answers; when it does not (an image
        build), a note says they were not checked.
        """,
        examples: [CommandExample("validate --config ./readiness-probe.conf", "Check a config file before installing it (exit 0, or 8 with file:line).")])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let config = try CLI.loadConfiguration(args, inv)
        // Beyond parsing: hooks that cannot run are errors (exit 8), timeouts the overall deadline
        // always cuts are warnings, and every hooks_dir entry that is not a hook is listed.
        let review = ConfigReview(config)
        var report = review.skipped.map { "skipped: \($0.path): \($0.reason)\n" }.joined()
        report += review.warnings.map { "warning: \($0)\n" }.joined()
        var errors = review.errors
        if errors.isEmpty {
            let (missing, note) = missingCriticalPrograms(config)
            errors += missing
            if let note { report += "note: \(note)\n" }
        }
        if !errors.isEmpty {
            Platform.writeStdout(report)
            throw ExitError(Codes.invalidConfig, errors.map { "readiness-probe: invalid configuration: \($0)" }.joined(separator: "\n"))
        }
        let files = config.document.files
        let what = files.isEmpty ? "no config file; built-in defaults" : files.joined(separator: ", ")
        Platform.writeStdout("ok: \(what): \(config.entries.count) check\(config.entries.count == 1 ? "" : "s")"
            + (config.entries.isEmpty ? "" : " (\(config.entries.map(\.name).joined(separator: ", ")))") + "\n" + report)
        return 0
    }

    /// Critical programs and groups (`critical`, `critical_file`) that the supervisord `run` would
    /// ask does not have: a typo in a critical_processes file, found before a probe says 4. Asked
    /// only when supervisord answers (in the running container); when it does not (an image
    /// build), a note says the names were not checked. docs/configuration.md.
    static func missingCriticalPrograms(_ config: ProbeConfiguration) -> (errors: [String], note: String?) {
        let watched = WatchedPrograms.of(config.entries)
        let named = watched.critical.indices.filter { watched.critical[$0] != .all }
        if named.isEmpty { return ([], nil) }
        switch SupervisorView.xmlrpcBlocking(config.settings, deadline: .after(.seconds(3))) {
        case .failure(let f):
            return ([], "critical program names not checked against supervisord (\(f.summary)); `run` checks them")
        case .success(var snapshot):
            if snapshot.listenerGroups.isEmpty { snapshot.listenerGroups = SupervisorView.listenerGroups(config.settings) }
            var errors: [String] = []
            for i in named {
                let sel = watched.critical[i]
                let found = snapshot.processes.contains {
                    sel.matches(name: $0.name, group: $0.group, namespec: $0.namespec, startProgram: watched.startProgram,
                                isListenerGroup: { snapshot.listenerGroups.contains($0) })
                }
                if !found {
                    let origin = i < watched.criticalOrigins.count ? watched.criticalOrigins[i] : nil
                    errors.append(ProgramsCheck.missing(sel, origin: origin, in: snapshot).1)
                }
            }
            return (errors, nil)
        }
    }
}
