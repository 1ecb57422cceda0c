// The command-line front end. The executable's main.swift only calls `CLI.main()`.
@preconcurrency import Glibc

public enum CLI {
    public static let version = "0.1.0"

    /// A command: its spec and what it does. Returns the exit status.
    public struct Command: Sendable {
        public var name: String
        public var spec: CommandSpec
        public var run: @Sendable (ParsedArguments, Invocation) throws(ExitError) -> Int32
    }

    /// What every command gets besides its arguments.
    public struct Invocation: Sendable {
        public var environment: Environment
        public var registry: CheckRegistry
        public init(environment: Environment = .process, registry: CheckRegistry = .standard) {
            self.environment = environment
            self.registry = registry
        }
    }

    /// Every command name, in help order.
    static let names = ["run", "codes", "checks", "validate", "listen", "serve", "wait", "report",
                        "state load", "state set", "state reset", "state show"]

    /// The command named `name`, built on demand: a lookup builds only the command it finds, since
    /// building every command's spec on each start cost about 0.1M instructions.
    static func command(named name: String) -> Command? {
        switch name {
        case "run": return RunCommand.command
        case "codes": return CodesCommand.command
        case "checks": return ChecksCommand.command
        case "validate": return ValidateCommand.command
        case "listen": return ListenCommand.command
        case "serve": return ServeCommand.command
        case "wait": return WaitCommand.command
        case "report": return ReportCommand.command
        default: return name.hasPrefix("state ") ? StateCommand.commands.first { $0.name == name } : nil
        }
    }

    public static var commands: [Command] { names.compactMap { command(named: $0) } }

    static let topSpec = CommandSpec(
        path: "readiness-probe", summary: "readiness-probe \(version): readiness checks for containers run by supervisord.",
        usage: "[COMMAND] [OPTIONS]", options: [], maxPositionals: 0,
        discussion: "Commands:\n" + [
            ("run", "Run every enabled check once and exit with the aggregated code (default)."),
            ("codes", "Print the code table."),
            ("checks", "List the configured checks, where each was registered, and their codes."),
            ("validate", "Validate the configuration: exit 0, or 8 with file:line messages."),
            ("state", "Application pid/error state: load, set, reset, show (liveness-compatible)."),
            ("listen", "Supervisor event listener (run by supervisord as an [eventlistener])."),
            ("serve", "HTTP health endpoints (/readyz, /livez, /metrics) over checks re-run in the background."),
            ("wait", "Re-run the checks until ready or the deadline; exit with the last code."),
            ("report", "report kuberhealthy: run once and report to KH_REPORTING_URL."),
        ].map { "  \($0.0.padding(10))\($0.1)" }.joined(separator: "\n")
            + "\n\nWith no command, `run` is assumed: `readiness-probe --format json` runs the checks."
            + "\nRun `readiness-probe COMMAND --help` for a command's options; docs/ has the manual.")

    /// Entry point for the executable: never returns.
    public static func main(_ arguments: [String] = CommandLine.arguments) -> Never {
        ProcessResources.useSmallAddressSpace()
        Platform.ensureStandardDescriptors()
        Platform.ignoreSIGPIPE()
        let status = run(Array(arguments.dropFirst()), invocation: Invocation())
        exit(status)
    }

    /// Runs a command line (without the program name) and returns the exit status.
    public static func run(_ args: [String], invocation: Invocation) -> Int32 {
        var rest = args
        var command = RunCommand.command
        if let first = args.first, !first.hasPrefix("-") {
            if args.count >= 2, let c = Self.command(named: "\(first) \(args[1])") {
                command = c
                rest.removeFirst(2)
            } else if let c = Self.command(named: first) {
                command = c
                rest.removeFirst()
            } else if names.contains(where: { $0.hasPrefix(first + " ") }) {
                // A command group (`state`): list its subcommands.
                let subs = names.filter { $0.hasPrefix(first + " ") }.compactMap { Self.command(named: $0) }
                var help = "Usage: readiness-probe \(first) SUBCOMMAND [OPTIONS]\n\nSubcommands:\n"
                for c in subs { help += "  \(c.name.padding(16))\(c.spec.summary)\n" }
                help += "\nRun `readiness-probe \(first) SUBCOMMAND --help` for its options.\n"
                let asked = args.count == 1 || args.dropFirst().allSatisfy { $0 == "--help" || $0 == "-h" }
                if asked { Platform.writeStdout(help); return 0 }
                Platform.writeStderr("readiness-probe \(first): unknown subcommand \"\(args[1])\"\n" + help)
                return Codes.invalidConfig
            } else {
                Platform.writeStderr("readiness-probe: unknown command \"\(first)\"\nUsage: readiness-probe [COMMAND] [OPTIONS]  (see readiness-probe --help)\n")
                return Codes.invalidConfig
            }
        } else if args == ["--help"] || args == ["-h"] {
            Platform.writeStdout(topSpec.help)
            return 0
        }
        do {
            let parsed = try ArgumentParser.parse(rest, command.spec)
            if parsed.has("--help") { Platform.writeStdout(command.spec.help); return 0 }
            if parsed.has("--version") { Platform.writeStdout("readiness-probe \(version)\n"); return 0 }
            return try command.run(parsed, invocation)
        } catch {
            Platform.writeStderr(error.message + "\n")
            return error.code
        }
    }

    /// Loads the configuration named by --config / READINESS_PROBE_CONFIG / the default path.
    static func loadConfiguration(_ args: ParsedArguments, _ inv: Invocation) throws(ExitError) -> ProbeConfiguration {
        do {
            return try ProbeConfiguration.load(explicitPath: args.value("--config"), environment: inv.environment,
                                               registry: inv.registry)
        } catch {
            throw ExitError(Codes.invalidConfig, "readiness-probe: invalid configuration: \(error)")
        }
    }

    static let configOption = OptionSpec("--config", short: "-c", value: "PATH",
                                         help: "Config file (default: $READINESS_PROBE_CONFIG, else \(ProbeSettings.defaultConfigPath)).")
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
