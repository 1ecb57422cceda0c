// What the `state` commands share (StateLoadCommand.swift, StateSetCommand.swift,
// StateResetCommand.swift, StateShowCommand.swift): application state files, compatible with
// the `liveness` Python module (docs/state.md).
import ProbeState
import ProbeSpawn
import ProbeSupport

enum StateCommand {
    static let unitOption = OptionSpec("--unit", short: "-u", value: "UNIT",
                                       help: "The unit (default: $LIVENESS_UNIT_NAME, else the host name).")
    static let rundirOption = OptionSpec("--rundir", short: "-r", value: "DIR", kind: .directory,
                                         help: "Where unit folders live (default: [probe] rundir of the config, else /run).")

    static func store(_ args: ParsedArguments, _ inv: CLI.Invocation, _ spec: CommandSpec) throws(ExitError) -> AppStateStore {
        var rundir = args.value("--rundir")
        if let r = rundir, !r.hasPrefix("/") {
            // As the config's [probe] rundir: a relative folder would depend on the caller's cwd.
            throw spec.usageError("--rundir must be an absolute path, not \"\(r)\"")
        }
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
        default: return ExitError(Codes.systemError, "\(spec.path): \(error.description)")
        }
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
