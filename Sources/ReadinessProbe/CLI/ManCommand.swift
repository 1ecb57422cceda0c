// `readiness-probe man`: the man page (ManPage.swift), generated from the command table.
import ProbeSupport

enum ManCommand: CLICommand {
    static let name = "man"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Print the manual page (roff), generated from the same table as --help.",
        usage: "", options: [],
        examples: [CommandExample("man | man -l -", "Read the manual without installing it."),
                   CommandExample("man > readiness-probe.1", "Write the page for packaging (`make man` does this).")])

    static let command = CLI.Command(name: name, spec: spec) { (_, _) throws(ExitError) -> Int32 in
        Platform.writeStdout(ManPage.render())
        return 0
    }
}
