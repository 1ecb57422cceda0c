// `readiness-probe checks`: the configured checks in table order, where each was registered, their codes.
import ProbeSupport

enum ChecksCommand: CLICommand {
    static let name = "checks"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "List the configured checks in table order, where each was registered, and their codes.",
        usage: "[--config PATH] [--format table|json]",
        options: [CLI.configOption, .format(Format.self, help: "table (default) or json.")],
        examples: [CommandExample("checks", "List the checks of the default config file."),
                   CommandExample("checks --config ./readiness-probe.conf --format json", "The checks of another file, as JSON.")])

    enum Format: String, CaseIterable { case table, json }

    /// The version id of `checks --format json`: docs/schema/checks.schema.json.
    static let jsonSchema = "readiness-probe/checks/1"

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let f: Format = try ArgumentParser.choice(args, "--format", spec, default: .table)
        let config = try CLI.loadConfiguration(args, inv)
        func codes(_ e: CheckEntry) -> [ClosedRange<Int32>] {
            codeRanges(inv.registry.kinds.first { $0.resultKind == e.kind }?.codes ?? [])
        }
        func label(_ r: ClosedRange<Int32>) -> String { r.count == 1 ? "\(r.lowerBound)" : "\(r.lowerBound)-\(r.upperBound)" }
        func codeText(_ e: CheckEntry) -> String { codes(e).map(label).joined(separator: ",") }
        if f == .json {
            // docs/schema/checks.schema.json
            let rows: [JSONValue] = config.entries.map { e in
                .object([("name", .string(e.name)), ("kind", .string(e.kind)), ("severity", .string(e.severity.rawValue)),
                         ("timeout_ms", e.timeout.map { .number(Double($0.milliseconds)) } ?? .null),
                         ("liveness", .bool(e.liveness)), ("origin", .string(e.origin)),
                         ("codes", .array(codes(e).map { r in
                             .object([("from", .number(Double(r.lowerBound))), ("to", .number(Double(r.upperBound))),
                                      ("label", .string(label(r)))])
                         }))])
            }
            let skipped: [JSONValue] = ConfigReview(config).skipped.map {
                .object([("path", .string($0.path)), ("reason", .string($0.reason))])
            }
            Platform.writeStdout(JSON.serialize(.object([
                ("schema", .string(jsonSchema)), ("config", config.settings.configFile.map { .string($0) } ?? .null),
                ("checks", .array(rows)), ("skipped", .array(skipped)),
            ])) + "\n")
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

    /// A kind's codes as the CODES column shows them: a range's first code (16 for a hook's own
    /// status) widened to its table row (16-254); any other code (a plugin's 30) as itself.
    static func codeRanges(_ codes: [Int32]) -> [ClosedRange<Int32>] {
        codes.map { code in Codes.info(code).flatMap { $0.range.lowerBound == code ? $0.range : nil } ?? code...code }
    }
}
