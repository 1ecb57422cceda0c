import ProbeSpawn
import ProbeSupport
@preconcurrency import Glibc

// `readiness-probe run`: every enabled check once; exit with the aggregated code.

enum RunCommand: CLICommand {
    static let name = "run"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Run every enabled check once and print the result.",
        usage: "[--config PATH] [--format \(OutputFormat.usage)] [--only NAMES] [--exclude NAMES] [--timeout D] [--cached [--max-age D]]",
        options: [
            CLI.configOption,
            .format(OutputFormat.self, help: OutputFormat.choices + "."),
        ] + CLI.selectionOptions + [
            OptionSpec("--timeout", short: "-t", value: "DURATION", help: "Overall deadline, e.g. 5s or 500ms (default: [probe] timeout)."),
            OptionSpec("--cached", help: "Print the event listener's last result instead of running the checks (code 11 if none or stale)."),
            OptionSpec("--max-age", value: "DURATION", help: "With --cached: the oldest result accepted (default: [supervisor] ledger_max_age)."),
        ],
        discussion: "Exit status: 0 when ready, else the code of the first failing check in table order\n(see `readiness-probe codes`).",
        examples: [
            CommandExample("run --format json", "Run every check once and print the result as JSON."),
            CommandExample("run --only start,programs -t2s", "Run two checks with a 2-second deadline."),
            CommandExample("run --cached", "Print the event listener's last result (as a Kubernetes exec probe, in about a millisecond)."),
        ])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let format: OutputFormat = try ArgumentParser.choice(args, "--format", spec, default: .summary)
        let timeout = try ArgumentParser.duration(args, "--timeout", spec)
        let config = try CLI.loadConfiguration(args, inv)
        let entries = try select(config.entries, only: args.list("--only"), exclude: args.list("--exclude"), spec: spec)
        if args.has("--cached") {
            let maxAge = try ArgumentParser.duration(args, "--max-age", spec) ?? config.settings.supervisor.ledgerMaxAge
            var report = CachedResult.read(config.settings, maxAge: maxAge)
            if report.code != Codes.noFreshResult && entries.count != config.entries.count {
                let names = Set(entries.map(\.name))
                report = ProbeReport.aggregate(report.results.filter { names.contains($0.name) }, durationMs: report.durationMs,
                                               finishedAt: report.finishedAt)
            }
            Platform.writeStdout(Render.render(report, as: format))
            return report.code
        }
        if args.value("--max-age") != nil { throw spec.usageError("--max-age needs --cached") }
        let (report, signal) = runOnce(entries, settings: config.settings, timeout: timeout, who: "readiness-probe run")
        if let signal { return 128 + signal }
        Platform.writeStdout(Render.render(report, as: format))
        // The flight recorder (docs/history.md): only a run of the whole check set, and only a
        // change is appended. A history that cannot be written never changes the probe's answer
        // or its output (`readiness-probe history` says what is wrong with the file).
        if entries.count == config.entries.count && config.settings.history.enabled {
            _ = try? HistoryRecorder.record(report, settings: config.settings, by: "run")
        }
        return report.code
    }

    /// One run on the calling thread, for the one-shot commands (`run`, `report kuberhealthy`).
    /// SIGTERM, SIGINT and SIGHUP stop it (one more wake of its poll loop): every hook's process
    /// group is killed and reaped, `who` says so on stderr, and the signal is returned (the
    /// command exits 128 + it). Afterwards nothing a hook started outlives the probe, not even a
    /// daemon in its own session.
    static func runOnce(_ entries: [CheckEntry], settings: ProbeSettings, timeout: Duration?,
                        who: String) -> (report: ProbeReport, signal: Int32?) {
        let control = RunControl(stopOn: [SIGTERM, SIGINT, SIGHUP])
        let report = ProbeRunner.runBlocking(entries, settings: settings, timeout: timeout, control: control)
        ProcessRunner.shared.killOrphans()
        if let signal = control.signal {
            Platform.writeStderr("\(who): stopped by \(Signals.name(signal)); every hook was killed and reaped\n")
        }
        return (report, control.signal)
    }

    /// Applies --only and --exclude. An unknown name in --only is an error (a typo must not
    /// turn the probe into a pass); an unknown name in --exclude is a warning on stderr.
    static func select(_ entries: [CheckEntry], only: [String], exclude: [String], spec: CommandSpec) throws(ExitError) -> [CheckEntry] {
        let known = entries.map(\.name)
        var out = entries
        if !only.isEmpty {
            for n in only where !known.contains(n) {
                throw spec.usageError("--only: no check named \"\(n)\" (checks: \(known.joined(separator: ", ")))")
            }
            out = out.filter { only.contains($0.name) }
        }
        for n in exclude where !known.contains(n) {
            Platform.writeStderr("warn: --exclude: no check named \"\(n)\"\n")
        }
        return out.filter { !exclude.contains($0.name) }
    }
}
