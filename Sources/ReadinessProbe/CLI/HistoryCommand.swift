// `readiness-probe history`: the flight recorder's records (docs/history.md).

import ProbeSupport
enum HistoryCommand: CLICommand {
    static let name = "history"
    enum Format: String, CaseIterable { case table, json }

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Show every recorded change of the result, of each check, and of supervisord's programs.",
        usage: "[--since 10m|TIMESTAMP] [--check NAME] [--format table|json] [--config PATH]",
        options: [
            CLI.configOption,
            .format(Format.self, help: "table (default: one line per change, with how long it lasted) or json."),
            OptionSpec("--since", value: "WHEN", help: "Only records since then: a duration back from now (10m, 2h) or a time (2026-12-01T03:12:05Z)."),
            OptionSpec("--check", value: "NAME", help: "Only this check's records, or this program's transitions (\"\" for the overall result)."),
        ],
        discussion: """
        The records come from <rundir>/readiness-probe/history, written by `run`, `serve` and the event listener
        (changes only; [history] max_size caps the file, oldest records first). Records that are corrupted or cut
        short (a writer killed mid-write) are skipped with a warning on stderr.
        Exit status: 0; 8 for a bad option; 14 when the history file may not be trusted (symlink, FIFO, folder,
        another user's file, writable by others: the message says which and how to fix it).
        """,
        examples: [
            CommandExample("history --since 10m", "What changed in the last ten minutes, with how long each state lasted."),
            CommandExample("history --check programs --format json", "The programs check's changes as JSON."),
            CommandExample("history --since 2026-12-01T03:00:00Z --check syncd", "The transitions of program syncd since 03:00 UTC."),
        ])

    static let command = CLI.Command(name: "history", spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let format: Format = try ArgumentParser.choice(args, "--format", spec, default: .table)
        let now = Platform.epochSeconds()
        var query = HistoryQuery(check: args.value("--check"))
        if let text = args.value("--since") {
            guard let t = HistoryQuery.parseSince(text, now: now) else {
                throw spec.usageError("--since must be a duration such as 10m or a time such as 2026-12-01T03:12:05Z, not \"\(text)\"")
            }
            query.since = t
        }
        let config = try CLI.loadConfiguration(args, inv)
        let file = HistoryFile(settings: config.settings)
        let log: HistoryLog
        switch file.read() {
        case .failure(let e): throw ExitError(Codes.systemError, "readiness-probe history: \(e.message)")
        case .success(let l): log = l
        }
        for w in log.warnings { Platform.writeStderr("readiness-probe history: warning: \(w)\n") }
        if !config.settings.history.enabled {
            Platform.writeStderr("readiness-probe history: note: [history] enabled = false: nothing new is recorded\n")
        }
        switch format {
        case .json: Platform.writeStdout(HistoryQuery.json(query.filter(log.records)))
        case .table: Platform.writeStdout(query.table(log.records, now: now))
        }
        return 0
    }
}
