// `readiness-probe state load|set|reset|show`: application state files, compatible with the
// `liveness` Python module (docs/state.md).
import ProbeState
import ProbeSpawn

enum StateCommand {
    static let unitOption = OptionSpec("--unit", short: "-u", value: "UNIT",
                                       help: "The unit (default: $LIVENESS_UNIT_NAME, else the host name).")
    static let rundirOption = OptionSpec("--rundir", short: "-r", value: "DIR",
                                         help: "Where unit folders live (default: [probe] rundir of the config, else /run).")

    static func store(_ args: ParsedArguments, _ inv: CLI.Invocation, _ spec: CommandSpec) throws(ExitError) -> AppStateStore {
        var rundir = args.value("--rundir")
        if rundir == nil, args.value("--config") != nil || inv.environment["READINESS_PROBE_CONFIG"] != nil
            || Platform.exists(ProbeSettings.defaultConfigPath) {
            rundir = try CLI.loadConfiguration(args, inv).settings.rundir
        }
        do {
            return try AppStateStore(unit: args.value("--unit"), rundir: rundir, environment: inv.environment)
        } catch {
            throw spec.usageError(error.description)
        }
    }

    static func fail(_ error: AppStateError, _ spec: CommandSpec) -> ExitError {
        switch error {
        case .checkFailed: return ExitError(Codes.appStateBad, "\(spec.path): \(error.description)")
        case .invalidUnit, .invalidRundir, .invalidPID: return spec.usageError(error.description)
        default: return ExitError(Codes.hookFailed, "\(spec.path): \(error.description)")
        }
    }

    static let loadSpec = CommandSpec(
        path: "readiness-probe state load", summary: "Write the unit's pid file (after running optional check commands).",
        usage: "[--pid N] [--unit U] [--rundir D] [--timeout D] [-- CHECK_CMD [ARG...]]",
        options: [OptionSpec("--pid", short: "-p", value: "N", help: "The pid to record (default: the parent process, e.g. a script's $$)."),
                  unitOption, rundirOption, CLI.configOption,
                  OptionSpec("--timeout", short: "-t", value: "DURATION", help: "Time limit of the check command (default 10s).")],
        discussion: "With `-- CHECK_CMD ...` the command runs first (argv, no shell); if it fails, nothing is written\nand the exit status is 5.")

    static let setSpec = CommandSpec(
        path: "readiness-probe state set", summary: "Write the unit's error code (0 = healthy).",
        usage: "CODE [--unit U] [--rundir D]", options: [unitOption, rundirOption, CLI.configOption], maxPositionals: 1)

    static let resetSpec = CommandSpec(
        path: "readiness-probe state reset", summary: "Remove the unit's pid and error files.",
        usage: "[--unit U] [--rundir D]", options: [unitOption, rundirOption, CLI.configOption])

    enum ShowFormat: String, CaseIterable { case text, json }
    static let showSpec = CommandSpec(
        path: "readiness-probe state show", summary: "Print the unit's health; exit 0 if healthy, 5 if not.",
        usage: "[--unit U] [--rundir D] [--format text|json]",
        options: [unitOption, rundirOption, CLI.configOption,
                  OptionSpec("--format", short: "-o", value: "FORMAT", help: "text (default) or json.")])

    static var commands: [CLI.Command] {
        [
            CLI.Command(name: "state load", spec: loadSpec) { (args, inv) throws(ExitError) -> Int32 in
                let s = try store(args, inv, loadSpec)
                var pid = Platform.parentProcessID
                if let p = args.value("--pid") {
                    guard let n = Int32(p), n > 0 else { throw loadSpec.usageError("--pid must be a positive number, not \"\(p)\"") }
                    pid = n
                }
                let timeout = try ArgumentParser.duration(args, "--timeout", loadSpec) ?? .seconds(10)
                var checks: [any HealthCheck] = []
                if !args.rest.isEmpty { checks.append(CommandHealthCheck(argv: args.rest, timeout: timeout)) }
                do throws(AppStateError) { try s.load(pid: pid, checks: checks) } catch { throw fail(error, loadSpec) }
                Platform.writeStdout("\(s.unit): pid \(pid) recorded in \(s.pidPath)\n")
                return 0
            },
            CLI.Command(name: "state set", spec: setSpec) { (args, inv) throws(ExitError) -> Int32 in
                guard let text = args.positionals.first else { throw setSpec.usageError("CODE is missing") }
                guard let code = Int(text) else { throw setSpec.usageError("CODE must be an integer, not \"\(text)\"") }
                let s = try store(args, inv, setSpec)
                do throws(AppStateError) { try s.set(error: code) } catch { throw fail(error, setSpec) }
                return 0
            },
            CLI.Command(name: "state reset", spec: resetSpec) { (args, inv) throws(ExitError) -> Int32 in
                let s = try store(args, inv, resetSpec)
                do throws(AppStateError) { try s.reset() } catch { throw fail(error, resetSpec) }
                return 0
            },
            CLI.Command(name: "state show", spec: showSpec) { (args, inv) throws(ExitError) -> Int32 in
                let format: ShowFormat = try ArgumentParser.choice(args, "--format", showSpec, default: .text)
                let s = try store(args, inv, showSpec)
                let health = s.evaluate()
                if format == .json {
                    Platform.writeStdout(JSON.serialize(health.jsonValue) + "\n")
                } else {
                    Platform.writeStdout("\(s.unit): \(health.isHealthy ? "healthy" : "unhealthy"): \(health.detail)\n")
                }
                return health.isHealthy ? 0 : Codes.appStateBad
            },
        ]
    }
}

/// A check command for `state load -- CMD`: argv, no shell, under a timeout, output bounded.
struct CommandHealthCheck: HealthCheck {
    var argv: [String]
    var timeout: Duration
    var name: String { argv.joined(separator: " ") }

    func check() throws {
        let outcome = ProcessRunner.shared.runAll([ProcessSpec(argv: argv, timeout: timeout)], deadline: .after(timeout))[0]
        let line = outcome.firstOutputLine
        switch outcome.termination {
        case .exited(0): return
        case .exited(let n): throw CheckCommandFailed(message: "exited \(n)" + (line.isEmpty ? "" : ": \(line)"))
        case .signaled(let sig): throw CheckCommandFailed(message: "killed by \(Signals.name(sig))")
        case .timedOut, .deadlineExceeded: throw CheckCommandFailed(message: "timed out after \(DurationText.format(timeout))")
        case .spawnFailed(_, let m): throw CheckCommandFailed(message: m)
        }
    }
}

struct CheckCommandFailed: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
