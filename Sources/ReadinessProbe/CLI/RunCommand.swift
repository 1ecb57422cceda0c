import ProbeSpawn
@preconcurrency import Glibc

// `readiness-probe run`: every enabled check once; exit with the aggregated code.

enum RunCommand {
    static let spec = CommandSpec(
        path: "readiness-probe run", summary: "Run every enabled check once and print the result.",
        usage: "[--config PATH] [--format summary|table|json|verbose] [--only NAMES] [--exclude NAMES] [--timeout D] [--cached [--max-age D]]",
        options: [
            CLI.configOption,
            OptionSpec("--format", short: "-o", value: "FORMAT", help: "summary (default), table, json or verbose."),
        ] + selectionOptions + [
            OptionSpec("--timeout", short: "-t", value: "DURATION", help: "Overall deadline, e.g. 5s or 500ms (default: [probe] timeout)."),
            OptionSpec("--cached", help: "Print the event listener's last result instead of running the checks (code 11 if none or stale)."),
            OptionSpec("--max-age", value: "DURATION", help: "With --cached: the oldest result accepted (default: [supervisor] ledger_max_age)."),
        ],
        discussion: "Exit status: 0 when ready, else the code of the first failing check in table order\n(see `readiness-probe codes`).")

    static let command = CLI.Command(name: "run", spec: spec) { (args, inv) throws(ExitError) -> Int32 in
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
        // SIGTERM, SIGINT and SIGHUP stop the run (one more wake of its poll loop): every hook's
        // process group is killed and reaped before the probe exits 128 + the signal.
        let control = RunControl(stopOn: [SIGTERM, SIGINT, SIGHUP])
        let report = ProbeRunner.runBlocking(entries, settings: config.settings, timeout: timeout, control: control)
        // Nothing a hook started outlives the probe, not even a daemon in its own session.
        ProcessRunner.shared.killOrphans()
        if let signal = control.signal {
            Platform.writeStderr("readiness-probe run: stopped by \(Platform.signalName(signal)); every hook was killed and reaped\n")
            return 128 + signal
        }
        Platform.writeStdout(Render.render(report, as: format))
        return report.code
    }

    /// --only and --exclude, shared by the commands that run checks.
    static let selectionOptions = [
        OptionSpec("--only", value: "NAMES", repeatable: true, help: "Run only these checks (comma-separated)."),
        OptionSpec("--exclude", value: "NAMES", repeatable: true, help: "Skip these checks (comma-separated)."),
    ]

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

enum CodesCommand {
    enum Format: String, CaseIterable { case table, json }
    static let spec = CommandSpec(
        path: "readiness-probe codes", summary: "Print the table of result codes (the same as docs/codes.md).",
        usage: "[--format table|json]",
        options: [OptionSpec("--format", short: "-o", value: "FORMAT", help: "table (Markdown, default) or json.")])

    static let command = CLI.Command(name: "codes", spec: spec) { (args, _) throws(ExitError) -> Int32 in
        let f: Format = try ArgumentParser.choice(args, "--format", spec, default: .table)
        Platform.writeStdout(f == .table ? Codes.markdown() : Codes.json())
        return 0
    }
}

enum ChecksCommand {
    static let spec = CommandSpec(
        path: "readiness-probe checks", summary: "List the configured checks in table order, where each was registered, and their codes.",
        usage: "[--config PATH] [--format table|json]",
        options: [CLI.configOption, OptionSpec("--format", short: "-o", value: "FORMAT", help: "table (default) or json.")])

    enum Format: String, CaseIterable { case table, json }

    static let command = CLI.Command(name: "checks", spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let f: Format = try ArgumentParser.choice(args, "--format", spec, default: .table)
        let config = try CLI.loadConfiguration(args, inv)
        func codes(_ e: CheckEntry) -> [Int32] { inv.registry.kinds.first { $0.resultKind == e.kind }?.codes ?? [] }
        func codeText(_ e: CheckEntry) -> String {
            codes(e).map { $0 == 16 ? "16-254" : String($0) }.joined(separator: ",")
        }
        if f == .json {
            let rows: [JSONValue] = config.entries.map { e in
                .object([("name", .string(e.name)), ("kind", .string(e.kind)), ("severity", .string(e.severity.rawValue)),
                         ("timeout_ms", e.timeout.map { .number(Double($0.milliseconds)) } ?? .null),
                         ("liveness", .bool(e.liveness)), ("origin", .string(e.origin)),
                         ("codes", .array(codes(e).map { .number(Double($0)) }))])
            }
            Platform.writeStdout(JSON.serialize(.array(rows)) + "\n")
            return 0
        }
        let source = config.settings.configFile ?? "(no config file: built-in defaults)"
        var out = "config: \(source)\n"
        let header = ["CHECK", "KIND", "SEVERITY", "TIMEOUT", "CODES", "REGISTERED AT"]
        let rows = config.entries.map { e in
            [e.name, e.kind, e.severity.rawValue, e.timeout.map(DurationText.format) ?? "-", codeText(e), e.origin]
        }
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        for r in [header] + rows {
            out += zip(r, widths).enumerated().map { i, p in i == r.count - 1 ? p.0 : p.0.padding(p.1 + 1) }.joined(separator: " ")
                .trimmingTrailingSpaces() + "\n"
        }
        if config.entries.isEmpty { out += "(no checks)\n" }
        for skipped in ConfigReview(config).skipped { out += "skipped: \(skipped.path): \(skipped.reason)\n" }
        Platform.writeStdout(out)
        return 0
    }
}

enum ValidateCommand {
    static let spec = CommandSpec(
        path: "readiness-probe validate", summary: "Validate the configuration: exit 0, or exit 8 with a file:line message.",
        usage: "[--config PATH]", options: [CLI.configOption])

    static let command = CLI.Command(name: "validate", spec: spec) { (args, inv) throws(ExitError) -> Int32 in
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
