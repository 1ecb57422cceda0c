// Hooks: per-container executables. Sources, in table order: [hook:NAME] sections,
// every executable file in hooks_dir (name order), then the SONiC hook path.
// Run with argv (never a shell), in their own process group, under a timeout; all hooks
// of a run share the run's one poll loop (Runner/Executor.swift).
import ProbeSpawn

public struct HookCheck: Check {
    public var argv: [String]
    public var timeout: Duration
    /// A missing executable is `skip` instead of code 7.
    public var optional: Bool

    public init(argv: [String], timeout: Duration, optional: Bool = false) {
        self.argv = argv
        self.timeout = timeout
        self.optional = optional
    }

    public static let kind = CheckKind(
        section: "hook", resultKind: "hook", order: 40, instance: .required,
        keys: ["command", "optional"],
        codes: [0, Codes.hookFailed, Codes.checkTimedOut, Codes.hookNotStarted, Codes.deadlineExceeded, 16],
        about: "runs an executable; exit 0 passes, 16-254 pass through, other failures give 1; timeout 6; cannot start or signal 7",
        make: makeHooks)

    static func makeHooks(_ input: CheckKindInput) throws(ConfigError) -> [CheckEntry] {
        var entries: [CheckEntry] = []
        for s in input.sections {
            let name = s.instance!.trimmingASCIIWhitespace()
            guard let cmd = s.entry("command"), !cmd.value.isEmpty else {
                throw ConfigError("[\(s.name)] needs command = /path/to/executable [args]", at: s.location)
            }
            let argv: [String]
            do { argv = try ShellWords.split(cmd.value) } catch {
                throw ConfigError(error.description, at: cmd.location)
            }
            guard !argv.isEmpty else { throw ConfigError("command is empty", at: cmd.location) }
            let common = try CommonCheckOptions(s)
            let optional = try s.entry("optional").map { (e) throws(ConfigError) in try ConfigValue.bool(e) } ?? false
            let timeout = common.timeout ?? input.settings.hookTimeout
            entries.append(CheckEntry(name: name, kind: "hook", severity: common.severity, timeout: timeout,
                                      liveness: common.liveness, origin: s.location.description,
                                      check: HookCheck(argv: argv, timeout: timeout, optional: optional)))
        }
        let dir = input.settings.hooksDir
        if !dir.isEmpty {
            let names: [String]?
            do { names = try Platform.listDirectory(dir) } catch {
                throw ConfigError("hooks_dir \(dir): \(error.message)", at: nil)
            }
            for name in names ?? [] where !name.hasPrefix(".") && !name.hasSuffix("~") {
                let path = dir + "/" + name
                guard let info = try? Platform.fileInfo(path), info.isRegular, Platform.isExecutable(path) else { continue }
                entries.append(CheckEntry(name: name, kind: "hook", timeout: input.settings.hookTimeout, origin: path,
                                          check: HookCheck(argv: [path], timeout: input.settings.hookTimeout)))
            }
        }
        let sonic = input.settings.sonicHook
        if !sonic.isEmpty, Platform.isExecutable(sonic), (try? Platform.fileInfo(sonic))??.isRegular == true {
            let base = String(sonic.split(separator: "/").last ?? "readiness_probe_hook")
            entries.append(CheckEntry(name: base, kind: "hook", timeout: input.settings.hookTimeout, origin: sonic,
                                      check: HookCheck(argv: [sonic], timeout: input.settings.hookTimeout)))
        }
        return entries
    }

    public func check(_ context: CheckContext) async -> CheckOutcome { await ProbeRunner.outcome(of: self, context) }

    /// The process to start on the run's poll loop, or the answer when there is nothing to start
    /// (a missing or unsafe executable). Resolving and vetting the executable happens here only.
    public func work(_ settings: ProbeSettings) -> CheckWork {
        let path: String
        switch HookCheck.resolve(argv[0], path: settings.environment["PATH"] ?? Platform.environment("PATH")) {
        case .found(let p): path = p
        case .missing:
            if optional { return .answer(.skip("\(argv[0]) is not installed (optional)")) }
            return .answer(.fail(Codes.hookNotStarted, "\(argv[0]) does not exist", summary: "hook executable missing"))
        }
        if let refusal = HookCheck.unsafeReason(path) {
            return .answer(.fail(Codes.hookNotStarted, refusal, summary: "hook refused: unsafe permissions"))
        }
        return .process(ProcessSpec(argv: [path] + argv.dropFirst(), timeout: timeout), interpret: HookCheck.interpret)
    }

    enum Resolution: Equatable { case found(String), missing }

    /// A bare name is looked up in PATH, as execvp would.
    static func resolve(_ name: String, path: String?) -> Resolution {
        if name.contains("/") { return Platform.exists(name) ? .found(name) : .missing }
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = dir + "/" + name
            if Platform.exists(candidate) { return .found(candidate) }
        }
        return .missing
    }

    /// Refuses what cron and sudo refuse: a file writable by group or others, or owned by
    /// a user other than root and us. Returns nil when the file is acceptable.
    static func unsafeReason(_ path: String) -> String? {
        let info: Platform.FileInfo?
        do { info = try Platform.fileInfo(path) } catch { return "cannot inspect \(path): \(error.message)" }
        guard let info else { return "\(path) does not exist" }
        if info.isDirectory { return "\(path) is a directory" }
        if info.permissions & 0o022 != 0 {
            let who = info.permissions & 0o002 != 0 ? "others" : "its group"
            return "\(path) is writable by \(who) (mode \(String(info.permissions, radix: 8))); refusing to run it"
        }
        if info.uid != 0 && info.uid != Platform.effectiveUserID {
            return "\(path) is owned by uid \(info.uid), neither root nor us; refusing to run it"
        }
        if !Platform.isExecutable(path) {
            return "\(path) is not executable (mode \(String(info.permissions, radix: 8)))"
        }
        return nil
    }

    /// How a hook that ran ended. A hook killed at its timeout or the overall deadline never gets
    /// here: the run plan writes those rows (codes 6 and 9).
    static func interpret(_ outcome: ProcessOutcome) -> CheckOutcome {
        let line = outcome.firstOutputLine
        func with(_ s: String) -> String { line.isEmpty ? s : "\(s): \(line)" }
        switch outcome.termination {
        case .exited(0):
            return .pass(line.isEmpty ? "exited 0" : line)
        case .exited(let status):
            let code = Codes.forHookExit(status)
            return .fail(code, with("exited \(status)"), summary: line.isEmpty ? "exited \(status)" : line)
        case .signaled(let sig):
            return .fail(Codes.hookNotStarted, with("killed by signal \(Signals.name(sig)) (\(sig))"),
                         summary: "killed by signal \(Signals.name(sig))")
        case .timedOut, .deadlineExceeded:
            return .fail(Codes.hookFailed, "killed by the runner", summary: "killed by the runner")
        case .spawnFailed(_, let message):
            return .fail(Codes.hookNotStarted, "cannot start: \(message)", summary: "cannot start")
        }
    }
}
