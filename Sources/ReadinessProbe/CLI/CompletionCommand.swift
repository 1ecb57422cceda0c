// `readiness-probe completion bash|zsh|fish`: a completion script (CompletionScripts.swift),
// generated from the command table. `--check-names` is what the scripts call for --only/--exclude.
import ProbeSupport

enum CompletionCommand: CLICommand {
    static let name = "completion"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Print a shell completion script: bash, zsh or fish.",
        usage: "bash|zsh|fish  |  --check-names [--config PATH]",
        options: [
            CLI.configOption,
            OptionSpec("--check-names", help: "Print the configured check names, one a line (the scripts complete --only with them)."),
        ],
        maxPositionals: 1,
        discussion: """
        The scripts complete commands, subcommands, options, --format values and, for --only and --exclude,
        the check names of the config file on the command line (else the default one). The Debian package
        installs them; by hand:
          bash: readiness-probe completion bash > /usr/share/bash-completion/completions/readiness-probe
          zsh:  readiness-probe completion zsh > /usr/share/zsh/vendor-completions/_readiness-probe
          fish: readiness-probe completion fish > /usr/share/fish/vendor_completions.d/readiness-probe.fish
        """,
        examples: [
            CommandExample("completion bash > /usr/share/bash-completion/completions/readiness-probe", "Install the bash completion where bash-completion loads it (as the package does)."),
            CommandExample("completion --check-names --config ./readiness-probe.conf", "The names --only accepts for that file."),
        ],
        arguments: CompletionScripts.Shell.allCases.map(\.rawValue))

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        if args.has("--check-names") {
            if !args.positionals.isEmpty { throw spec.usageError("--check-names takes no shell") }
            let config = try CLI.loadConfiguration(args, inv)
            Platform.writeStdout(config.entries.map { $0.name + "\n" }.joined())
            return 0
        }
        guard let text = args.positionals.first else { throw spec.usageError("which shell? (bash, zsh or fish)") }
        guard let shell = CompletionScripts.Shell(rawValue: text) else {
            throw spec.usageError("unknown shell \"\(text)\" (bash, zsh or fish)")
        }
        if args.value("--config") != nil { throw spec.usageError("--config goes with --check-names") }
        Platform.writeStdout(CompletionScripts.script(shell))
        return 0
    }
}
