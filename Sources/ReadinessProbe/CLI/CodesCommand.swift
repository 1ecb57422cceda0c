// `readiness-probe codes`: the code table (Runner/Codes.swift), as docs/codes.md or JSON.
import ProbeSupport

enum CodesCommand: CLICommand {
    static let name = "codes"
    enum Format: String, CaseIterable { case table, json }
    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Print the table of result codes (the same as docs/codes.md).",
        usage: "[--format table|json]",
        options: [.format(Format.self, help: "table (Markdown, default) or json.")],
        examples: [CommandExample("codes", "Print the table (the same as docs/codes.md)."),
                   CommandExample("codes --format json", "The table as JSON, for tools.")])

    static let command = CLI.Command(name: name, spec: spec) { (args, _) throws(ExitError) -> Int32 in
        let f: Format = try ArgumentParser.choice(args, "--format", spec, default: .table)
        Platform.writeStdout(f == .table ? Codes.markdown() : Codes.json())
        return 0
    }
}
