// The command table: the one list of commands. It drives name lookup, `readiness-probe --help`,
// the man page (`readiness-probe man`) and the completion scripts (`readiness-probe completion`).
//
// Adding a command: one file with an enum conforming to `CLICommand` (its name, and a
// `CLI.Command`: spec and body), plus its line below. Nothing else lists commands.
import ProbeSupport

/// A command of the CLI; see the table below.
protocol CLICommand {
    /// What the user types: `run`, `state set`. Two words make a group (`state`) of subcommands.
    static var name: String { get }
    /// Its spec (options, usage, examples) and body, built only when this command runs or is documented.
    static var command: CLI.Command { get }
}

extension CLI {
    /// Every command, in the order `--help`, the man page and the completions list them.
    static let table: [any CLICommand.Type] = [
        RunCommand.self,
        CodesCommand.self,
        ChecksCommand.self,
        ValidateCommand.self,
        ListenCommand.self,
        ServeCommand.self,
        WaitCommand.self,
        ReportCommand.self,
        HistoryCommand.self,
        TimelineCommand.self,
        NotifyCommand.self,
        AwaitCommand.self,
        StateLoadCommand.self,
        StateSetCommand.self,
        StateResetCommand.self,
        StateShowCommand.self,
        VersionCommand.self,
        ManCommand.self,
        CompletionCommand.self,
    ]
}
