// Hooks: per-container executables. Sources, in table order: [hook:NAME] sections,
// every executable file in hooks_dir (name order), then the SONiC hook path.
// Run with argv (never a shell), in their own process group, under a timeout; all hooks
// of a run share the run's one poll loop (Runner/Executor.swift).
import ProbeSpawn
import ProbeSupport

struct HookCheck: Check {
    var argv: [String]
    var timeout: Duration
    /// A missing executable is `skip` instead of code 7.
    var optional: Bool
    /// Where the executable is (see HookFile): argv[0] as a command, or a hooks_dir entry by its bytes.
    var executable: HookExecutable

    init(argv: [String], timeout: Duration, optional: Bool = false) {
        self.argv = argv
        self.timeout = timeout
        self.optional = optional
        self.executable = .command(argv.first ?? "")
    }

    /// A hooks_dir entry: run with no arguments; argv[0] is its (escaped) path.
    init(entry name: [UInt8], in directory: String, timeout: Duration) {
        executable = .entry(directory: directory, name: name)
        argv = [executable.displayPath]
        self.timeout = timeout
        optional = false
    }

    static let kind = CheckKind(
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
            let listing = try HookFile.list(directory: dir, location: hooksDirLocation(input.document))
            for name in listing.hooks {
                let check = HookCheck(entry: name, in: dir, timeout: input.settings.hookTimeout)
                entries.append(CheckEntry(name: ByteText.display(name), kind: "hook", timeout: input.settings.hookTimeout,
                                          origin: check.executable.displayPath, check: check))
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

    /// Where `hooks_dir` was set, or nil when it is the built-in default.
    static func hooksDirLocation(_ doc: INIDocument) -> FileLocation? {
        doc.section("probe")?.entry("hooks_dir")?.location
    }

    func check(_ context: CheckContext) async -> CheckOutcome { await ProbeRunner.outcome(of: self, context) }

    /// The process to start on the run's poll loop, or the answer when there is nothing to start
    /// (a missing or unsafe executable). Finding, vetting and opening the executable happen in
    /// HookFile only; the opened file is what runs (ProcessSpec.executable).
    func work(_ settings: ProbeSettings) -> CheckWork {
        switch HookFile.open(executable, searchPath: settings.environment["PATH"] ?? Platform.environment("PATH")) {
        case .failure(let refusal):
            if refusal.missing && optional { return .answer(.skip("\(argv[0]) is not installed (optional)")) }
            return .answer(.fail(Codes.hookNotStarted, refusal.detail, summary: refusal.summary))
        case .success(let file):
            return .process(ProcessSpec(argv: [file.path] + argv.dropFirst(), timeout: timeout, executable: file),
                            interpret: HookCheck.interpret)
        }
    }

    /// For `validate`: an executable that is missing, unsafe or cannot start (a bad `#!`) is an
    /// error, a missing optional one a warning (HookFile vets it as a run would).
    func review(_ settings: ProbeSettings) -> CheckReview {
        switch HookFile.open(executable, searchPath: settings.environment["PATH"] ?? Platform.environment("PATH")) {
        case .success(let file):
            guard let problem = file.contentProblem() else { return CheckReview() }
            return CheckReview(errors: ["cannot run: \(file.path): \(problem)"])
        case .failure(let refusal) where refusal.missing && optional:
            return CheckReview(warnings: ["(optional) is not installed: \(refusal.detail)"])
        case .failure(let refusal):
            return CheckReview(errors: ["cannot run: \(refusal.detail)"])
        }
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
            // "cannot run PATH: its interpreter X ... does not exist": the first line says why, too.
            let why = message.firstRange(of: ": it").map { "cannot start: " + message[message.index($0.lowerBound, offsetBy: 2)...] }
            return .fail(Codes.hookNotStarted, "cannot start: \(message)", summary: why ?? "cannot start")
        }
    }
}
