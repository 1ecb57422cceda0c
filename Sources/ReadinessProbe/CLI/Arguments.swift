// A small argument parser: `--name value`, `--name=value`, `-n value`, `-nvalue`, flags, `--`
// and positionals. Errors carry exit code 8 and a one-line usage hint. A command's spec (its
// options, usage, examples) also drives `--help`, the man page and the completion scripts.
import ProbeSupport

/// An error that ends the program with a documented exit code.
struct ExitError: Error, CustomStringConvertible, Sendable {
    var code: Int32
    var message: String
    init(_ code: Int32, _ message: String) {
        self.code = code
        self.message = message
    }
    var description: String { message }
}

/// What an option's value is, for the completion scripts (and, for `.names`, the parser).
enum OptionValueKind: Sendable, Equatable {
    case text
    case file
    case directory
    /// One of these words (`--format`).
    case choice([String])
    /// Comma-separated check names of the configuration (`--only`, `--exclude`); empty is an error.
    case checkNames
}

struct OptionSpec: Sendable {
    var name: String        // "--format"
    var short: String?      // "-o"
    var valueName: String?  // nil: a flag
    var help: String
    var repeatable: Bool
    var kind: OptionValueKind

    init(_ name: String, short: String? = nil, value: String? = nil, repeatable: Bool = false,
                kind: OptionValueKind = .text, help: String) {
        self.name = name
        self.short = short
        self.valueName = value
        self.help = help
        self.repeatable = repeatable
        self.kind = kind
    }

    /// `--format` with its values, e.g. `OptionSpec.format(OutputFormat.self, default: .summary)`.
    static func format<T: RawRepresentable & CaseIterable>(_ type: T.Type, help: String) -> OptionSpec where T.RawValue == String {
        OptionSpec("--format", short: "-o", value: "FORMAT", kind: .choice(T.allCases.map(\.rawValue)), help: help)
    }
}

/// One example of a command's use: `command` (after `readiness-probe `) and what it does.
struct CommandExample: Sendable {
    var command: String
    var explanation: String
    init(_ command: String, _ explanation: String) {
        self.command = command
        self.explanation = explanation
    }
}

struct CommandSpec: Sendable {
    var path: String            // "readiness-probe run"
    var summary: String
    var usage: String           // "[--format F] [--only NAMES]"
    var options: [OptionSpec]
    var maxPositionals: Int
    var discussion: String
    /// Shown at the end of `--help` and in the man page: 1-3 per command. Built only when asked for:
    /// a first `[CommandExample]` costs the runtime a type look-up (about 11k instructions) that a
    /// probe, which never prints them, should not pay (docs/architecture.md, "The probe path").
    var examples: [CommandExample] { makeExamples() }
    private let makeExamples: @Sendable () -> [CommandExample]
    /// Arguments after `--` are the command's own (`state load -- CMD ARGS`); for other
    /// commands they are positionals, so `state set -- -1` works.
    var takesRest: Bool
    /// The words the first positional may be (`report kuberhealthy`), for the completions.
    var arguments: [String]

    init(path: String, summary: String, usage: String, options: [OptionSpec], maxPositionals: Int = 0,
                discussion: String = "", examples: @autoclosure @escaping @Sendable () -> [CommandExample] = [],
                takesRest: Bool = false, arguments: [String] = []) {
        self.path = path
        self.summary = summary
        self.usage = usage
        self.options = options + CommandSpec.standardOptions
        self.maxPositionals = maxPositionals
        self.discussion = discussion
        self.makeExamples = examples
        self.takesRest = takesRest
        self.arguments = arguments
    }

    /// Every command has these.
    static let standardOptions = [OptionSpec("--help", short: "-h", help: "Show this help."),
                                  OptionSpec("--version", short: "-V", help: "Print the version.")]

    /// `-c, --config PATH`, or `    --cached` for an option without a short name.
    static func label(_ o: OptionSpec) -> String {
        var l = o.short.map { "\($0), " } ?? "    "
        l += o.name
        if let v = o.valueName { l += " \(v)" }
        return l
    }

    var help: String {
        var out = "\(summary)\n\nUsage: \(path) \(usage)\n"
        if !discussion.isEmpty { out += "\n" + discussion + "\n" }
        out += "\nOptions:\n"
        let labels = options.map(CommandSpec.label)
        let width = min(34, (labels.map(\.count).max() ?? 0) + 2)
        for (o, l) in zip(options, labels) {
            out += "  " + l + String(repeating: " ", count: max(2, width - l.count)) + o.help + "\n"
        }
        if !examples.isEmpty {
            out += "\nExamples:\n"
            for e in examples { out += "  readiness-probe \(e.command)\n      \(e.explanation)\n" }
        }
        return out
    }

    func usageError(_ message: String) -> ExitError {
        ExitError(Codes.invalidConfig, "\(path): \(message)\nUsage: \(path) \(usage)  (see \(path) --help)")
    }
}

struct ParsedArguments: Sendable {
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    var positionals: [String] = []
    /// Everything after `--`.
    var rest: [String] = []

    func value(_ name: String) -> String? { values[name]?.last }
    func has(_ name: String) -> Bool { flags.contains(name) }
    /// Comma-separated, repeatable values flattened: `--only a,b --only c` gives [a, b, c].
    func list(_ name: String) -> [String] {
        (values[name] ?? []).flatMap { $0.split(separator: ",").map { $0.trimmingASCIIWhitespace() } }.filter { !$0.isEmpty }
    }
}

enum ArgumentParser {
    /// `-1`, `-42`: a value (e.g. `state set -1`), not an option.
    static func isNegativeNumber(_ a: String) -> Bool {
        a.count > 1 && a.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }

    static func parse(_ args: [String], _ spec: CommandSpec) throws(ExitError) -> ParsedArguments {
        var out = ParsedArguments()
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            if a == "--" {
                if spec.takesRest { out.rest = Array(args[i...]) } else { out.positionals += args[i...] }
                break
            }
            if a.hasPrefix("-") && a != "-" && !ArgumentParser.isNegativeNumber(a) {
                var name = a
                var inline: String? = nil
                if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                    name = String(a[..<eq])
                    inline = String(a[a.index(after: eq)...])
                } else if !a.hasPrefix("--") && a.utf8.count > 2 {
                    // `-t1s`: a short option with its value attached.
                    let short = String(a.prefix(2))
                    if spec.options.contains(where: { $0.short == short && $0.valueName != nil }) {
                        name = short
                        inline = String(a.dropFirst(2))
                    }
                }
                guard let opt = spec.options.first(where: { $0.name == name || $0.short == name }) else {
                    throw spec.usageError("unknown option \(name)")
                }
                if opt.valueName == nil {
                    if inline != nil { throw spec.usageError("\(opt.name) takes no value") }
                    out.flags.insert(opt.name)
                    continue
                }
                let v: String
                if let inline { v = inline } else {
                    guard i < args.count else { throw spec.usageError("\(opt.name) needs a value (\(opt.valueName!))") }
                    v = args[i]
                    i += 1
                }
                if !opt.repeatable && out.values[opt.name] != nil {
                    throw spec.usageError("\(opt.name) is given twice")
                }
                if case .checkNames = opt.kind, !v.split(separator: ",").contains(where: { !$0.trimmingASCIIWhitespace().isEmpty }) {
                    // `--only ''` must not mean "no filter": that would run everything.
                    throw spec.usageError("\(opt.name) needs one or more check names, not \"\(v)\"")
                }
                out.values[opt.name, default: []].append(v)
                continue
            }
            out.positionals.append(a)
        }
        if out.has("--help") || out.has("--version") { return out }
        if out.positionals.count > spec.maxPositionals {
            throw spec.usageError("unexpected argument \"\(out.positionals[spec.maxPositionals])\"")
        }
        return out
    }

    static func duration(_ args: ParsedArguments, _ name: String, _ spec: CommandSpec) throws(ExitError) -> Duration? {
        guard let v = args.value(name) else { return nil }
        let d: Duration
        do { d = try DurationText.parse(v) } catch { throw spec.usageError("\(name): \(error)") }
        if d <= .zero { throw spec.usageError("\(name) must be greater than 0") }
        return d
    }

    static func choice<T: RawRepresentable>(_ args: ParsedArguments, _ name: String, _ spec: CommandSpec,
                                                   default def: T) throws(ExitError) -> T where T.RawValue == String, T: CaseIterable {
        guard let v = args.value(name) else { return def }
        guard let t = T(rawValue: v) else {
            throw spec.usageError("\(name) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(v)\"")
        }
        return t
    }
}
