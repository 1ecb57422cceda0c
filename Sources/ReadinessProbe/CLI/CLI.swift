// The command-line front end. The executable's main.swift only calls `CLI.main()`.
// The commands are listed once, in CommandTable.swift; each lives in its own file.
import ProbeSupport

@preconcurrency import Glibc

/// The command line: `CLI.main()` is the executable's whole body. The commands are listed once,
/// in `CLI.table` (CLI/CommandTable.swift); each lives in its own file.
public enum CLI {
    /// The product's version (ProbeSupport's `ProbeVersion`, the one place it is written).
    static var version: String { ProbeVersion.string }

    /// A command: its spec and what it does. Returns the exit status.
    struct Command: Sendable {
        var name: String
        var spec: CommandSpec
        var run: @Sendable (ParsedArguments, Invocation) throws(ExitError) -> Int32
    }

    /// What every command gets besides its arguments.
    struct Invocation: Sendable {
        var environment: Environment
        var registry: CheckRegistry
        init(environment: Environment = .process, registry: CheckRegistry = .standard) {
            self.environment = environment
            self.registry = registry
        }
    }

    /// Every command name, in table order.
    static var names: [String] { table.map { $0.name } }

    /// The command named `name`. Only the command found is built: building every command's spec
    /// on each start cost about 0.1M instructions.
    static func command(named name: String) -> Command? {
        for c in table where c.name == name { return c.command }
        return nil
    }

    /// Every command, built (for --help, the man page, the completions and tests).
    static var commands: [Command] { table.map { $0.command } }

    /// `state` for `state load`: a word that starts one or more two-word commands.
    static func isGroup(_ word: String) -> Bool {
        let prefix = word + " "
        return table.contains { $0.name.hasPrefix(prefix) }
    }

    static func isCommandWord(_ word: String) -> Bool {
        let prefix = word + " "
        return table.contains { $0.name == word || $0.name.hasPrefix(prefix) }
    }

    static let summary = "readiness checks for containers whose processes run under supervisord"

    static var topHelp: String {
        var out = "readiness-probe \(version): \(summary).\n\nUsage: readiness-probe [COMMAND] [OPTIONS]\n\nCommands:\n"
        for c in commands { out += "  \(c.name.padding(14))\(c.spec.summary)\n" }
        out += "\nWith no command, `run` is assumed: `readiness-probe --format json` runs the checks."
        out += "\nOptions may come before the command: `readiness-probe --config F checks`."
        out += "\nRun `readiness-probe COMMAND --help` for a command's options, `man readiness-probe` for the manual.\n"
        out += "\nOptions:\n  -h, --help     Show this help.\n  -V, --version  Print the version.\n"
        out += "\nExamples:\n  readiness-probe\n      Run every check once; exit 0 when ready, else the failing check's code.\n"
        out += "  readiness-probe checks --config /etc/readiness-probe/readiness-probe.conf\n      List the checks a config file defines.\n"
        return out
    }

    /// Entry point for the executable: never returns.
    public static func main(_ arguments: [String] = CommandLine.arguments, registry: CheckRegistry = .standard) -> Never {
        ProcessResources.useSmallAddressSpace()
        Platform.ensureStandardDescriptors()
        Platform.ignoreSIGPIPE()
        let status = run(Array(arguments.dropFirst()), invocation: Invocation(registry: registry))
        exit(status)
    }

    /// Runs a command line (without the program name) and returns the exit status.
    static func run(_ args: [String], invocation: Invocation) -> Int32 {
        if args.count == 1 {
            // Before any command is built: the commonest calls of a script checking the install.
            if args[0] == "--version" || args[0] == "-V" { Platform.writeStdout("readiness-probe \(version)\n"); return 0 }
            if args[0] == "--help" || args[0] == "-h" { Platform.writeStdout(topHelp); return 0 }
        }
        var rest = args
        var command: Command
        if let at = commandPosition(args) {
            let first = args[at]
            var words = 1
            if isGroup(first) {
                guard at + 1 < args.count, let c = Self.command(named: "\(first) \(args[at + 1])") else {
                    return groupUsage(first, args: Array(args[(at + 1)...]))
                }
                command = c
                words = 2
            } else {
                command = Self.command(named: first)!
            }
            // Options before the command go after it: `--config F checks` is `checks --config F`.
            rest = Array(args[(at + words)...]) + Array(args[..<at])
        } else if let first = args.first, !first.hasPrefix("-") {
            writeError("readiness-probe: unknown command \"\(first)\"\nUsage: readiness-probe [COMMAND] [OPTIONS]  (commands: \(names.filter { !$0.contains(" ") }.joined(separator: ", ")), state; see readiness-probe --help)")
            return Codes.invalidConfig
        } else {
            command = RunCommand.command
        }
        do {
            let parsed = try ArgumentParser.parse(rest, command.spec)
            if parsed.has("--help") { Platform.writeStdout(command.spec.help); return 0 }
            if parsed.has("--version") { Platform.writeStdout("readiness-probe \(version)\n"); return 0 }
            return try command.run(parsed, invocation)
        } catch {
            writeError(error.message)
            return error.code
        }
    }

    /// Where the command word is: 0 when the line starts with one; after leading options (and their
    /// values, as `run` reads them) when one follows them; nil when there is none (`run` is assumed).
    static func commandPosition(_ args: [String]) -> Int? {
        guard let first = args.first else { return nil }
        if !first.hasPrefix("-") { return isCommandWord(first) ? 0 : nil }
        let options = RunCommand.spec.options
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { return nil }
            if !a.hasPrefix("-") || a == "-" || ArgumentParser.isNegativeNumber(a) { return isCommandWord(a) ? i : nil }
            if a.hasPrefix("--") ? a.contains("=") : a.utf8.count > 2 { i += 1; continue }  // value attached
            if let o = options.first(where: { $0.name == a || $0.short == a }) {
                i += o.valueName == nil ? 1 : 2
                continue
            }
            // An option `run` does not know (`--unit U state show`): a flag if a command follows it,
            // else one with a value.
            if i + 1 < args.count, isCommandWord(args[i + 1]) { return i + 1 }
            i += 2
        }
        return nil
    }

    /// `readiness-probe state`: its subcommands. Asked for (`--help`) it exits 0; a missing or
    /// unknown subcommand is a usage error (8).
    static func groupUsage(_ group: String, args: [String]) -> Int32 {
        let subs = table.filter { $0.name.hasPrefix(group + " ") }.map { $0.command }
        var help = "Usage: readiness-probe \(group) SUBCOMMAND [OPTIONS]\n\nSubcommands:\n"
        for c in subs { help += "  \(c.name.padding(16))\(c.spec.summary)\n" }
        help += "\nRun `readiness-probe \(group) SUBCOMMAND --help` for its options.\n"
        // Ends with examples, as every command's help does: the first of the first two
        // subcommands and of the last (state: load, set, show).
        var picked: [CommandExample] = []
        for c in Array(subs.prefix(2)) + Array(subs.suffix(1)) {
            if let e = c.spec.examples.first, !picked.contains(where: { $0.command == e.command }) { picked.append(e) }
        }
        if !picked.isEmpty {
            help += "\nExamples:\n"
            for e in picked { help += "  readiness-probe \(e.command)\n      \(e.explanation)\n" }
        }
        if !args.isEmpty && args.allSatisfy({ $0 == "--help" || $0 == "-h" }) { Platform.writeStdout(help); return 0 }
        let why = args.first.map { "unknown subcommand \"\($0)\"" } ?? "which subcommand?"
        writeError("readiness-probe \(group): \(why)\n" + help)
        return Codes.invalidConfig
    }

    /// Writes a message to stderr, control characters escaped: a message may quote a hostile file
    /// (a binary given as config) and must not send its bytes to the terminal.
    static func writeError(_ message: String) {
        Platform.writeStderr(escapingControls(message) + (message.hasSuffix("\n") ? "" : "\n"))
    }

    /// Tabs and newlines stay; other control characters, DEL and C1 become `\xNN`; a replaced
    /// invalid byte (U+FFFD) becomes `\ufffd`. At most 4 KiB.
    static func escapingControls(_ s: String) -> String {
        let clean = s.unicodeScalars.allSatisfy { ($0.value >= 0x20 && $0.value < 0x7f) || $0 == "\n" || $0 == "\t" }
        var out = ""
        if clean { out = s } else {
            for u in s.unicodeScalars {
                switch u.value {
                case 0x0a, 0x09: out.unicodeScalars.append(u)
                case 0..<0x20, 0x7f...0x9f: out += "\\x" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16)
                case 0xfffd: out += "\\ufffd"
                default: out.unicodeScalars.append(u)
                }
            }
        }
        if out.utf8.count > 4096 {
            let more = out.utf8.count - 4000
            out = String(decoding: out.utf8.prefix(4000), as: UTF8.self) + "... (\(more) more bytes)"
        }
        return out
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

    static let configOption = OptionSpec("--config", short: "-c", value: "PATH", kind: .file,
                                         help: "Config file (default: $READINESS_PROBE_CONFIG, else \(ProbeSettings.defaultConfigPath)).")

    /// --only and --exclude, shared by the commands that run checks.
    static let selectionOptions = [
        OptionSpec("--only", value: "NAMES", repeatable: true, kind: .checkNames, help: "Run only these checks (comma-separated)."),
        OptionSpec("--exclude", value: "NAMES", repeatable: true, kind: .checkNames, help: "Skip these checks (comma-separated)."),
    ]
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
