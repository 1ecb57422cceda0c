import ProbeSpawn
import ProbeSupport
// `readiness-probe wait`: re-runs the checks until ready or the deadline, for upgrade
// controllers and start scripts. Exits 0 when ready, else with the last code.
@preconcurrency import Glibc
import Synchronization

enum WaitCommand: CLICommand {
    static let name = "wait"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Re-run the checks until ready or the deadline; exit with the last code.",
        usage: "[--timeout D] [--interval D] [--stable-for D] [--fail-after D] [--config PATH] [--format \(OutputFormat.usage)] [--only NAMES] [--exclude NAMES]",
        options: [
            CLI.configOption,
            OptionSpec("--timeout", short: "-t", value: "DURATION", help: "How long to wait in all (default 300s)."),
            OptionSpec("--interval", short: "-i", value: "DURATION", help: "From the start of one run to the next (default 2s)."),
            OptionSpec("--stable-for", value: "DURATION",
                       help: "Exit 0 only once the result has been 0 for this long without a failure in between (default: the first 0)."),
            OptionSpec("--fail-after", value: "DURATION",
                       help: "End early with the last code once a failure has lasted this long (default: wait until --timeout)."),
            .format(OutputFormat.self, help: "How to print the final result: " + OutputFormat.choices + "."),
        ] + CLI.selectionOptions,
        discussion: """
        Each run has the [probe] timeout, cut to the time left. Progress goes to stderr: a line updated in place
        on a terminal, else one line per change of code. The final result goes to stdout.
        With --stable-for, 0 needs an unbroken streak of ready runs that long; with --fail-after, a failure
        that lasts that long ends the wait early. Exit status: 0 when ready (and stable); at the deadline, the
        last run's code, or 9 when it was 0 but not yet stable; with --fail-after, the last code; on
        SIGTERM/SIGINT, the last code, or 9 if no run finished (or it was not yet stable). See docs/wait.md.
        """,
        examples: [
            CommandExample("wait --timeout 120s", "Block an upgrade script until the container is ready (at most 2 minutes)."),
            CommandExample("wait -t30s -i500ms --only start --format json", "Wait for one check, polling every 500ms; print JSON."),
            CommandExample("wait --timeout 10m --stable-for 30s --fail-after 2m", "Healthy for 30s in a row, or give up once a failure lasts 2 minutes."),
        ])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        Platform.blockSignals([SIGTERM, SIGINT])
        let total = try ArgumentParser.duration(args, "--timeout", spec) ?? .seconds(300)
        let interval = try ArgumentParser.duration(args, "--interval", spec) ?? .seconds(2)
        let stableFor = try ArgumentParser.duration(args, "--stable-for", spec)
        let failAfter = try ArgumentParser.duration(args, "--fail-after", spec)
        if let stableFor, stableFor >= total {
            throw spec.usageError("--stable-for \(DurationText.format(stableFor)) must be shorter than --timeout \(DurationText.format(total)): the wait could never end ready")
        }
        let format: OutputFormat = try ArgumentParser.choice(args, "--format", spec, default: .summary)
        let config = try CLI.loadConfiguration(args, inv)
        let entries = try RunCommand.select(config.entries, only: args.list("--only"), exclude: args.list("--exclude"), spec: spec)
        let progress = Progress(terminal: Platform.isTerminal(2))
        let settings = config.settings
        let deadline = Deadline.after(total)
        let gate = WaitGate(stableFor: stableFor, failAfter: failAfter)
        let task = Task.detached {
            await loop(entries, settings: settings, deadline: deadline, interval: interval, gate: gate, progress: progress)
        }
        let signalled = Atomic<Int32>(0)
        PlainThread.detach {
            let s = Platform.waitForSignal([SIGTERM, SIGINT])
            signalled.store(s, ordering: .sequentiallyConsistent)
            task.cancel()
        }
        let outcome = Blocking.await { await task.value }
        let signal = signalled.load(ordering: .sequentiallyConsistent)
        let elapsed = DurationText.format(.milliseconds(progress.elapsed.milliseconds / 100 * 100))
        var report = outcome.last ?? ProbeReport(code: Codes.deadlineExceeded,
                                                 summary: signal != 0 ? "stopped by \(Signals.name(signal)) before a run finished"
                                                                      : "no run finished before the deadline",
                                                 durationMs: 0, results: [], finishedAt: Platform.epochSeconds())
        let runs = "\(outcome.attempts) run\(outcome.attempts == 1 ? "" : "s")"
        if report.ready && !outcome.gate.isStable {
            // Ready, but not for --stable-for yet: never exit 0 (code 9, with a row that says why).
            let ended = signal != 0 ? "stopped by \(Signals.name(signal))" : "the --timeout (\(DurationText.format(total))) ran out"
            report = outcome.gate.notYetStable(report, ended: ended)
        }
        if report.ready {
            let stable = stableFor.map { " and stable for \(DurationText.format($0))" } ?? ""
            progress.finish("wait: ready\(stable) after \(elapsed) (\(runs))")
        } else if signal != 0 {
            progress.finish("wait: stopped by \(Signals.name(signal)) after \(elapsed) (\(runs)); last code \(report.code)")
        } else if outcome.failedTooLong, let failAfter {
            progress.finish("wait: failing for \(DurationText.format(failAfter)) or more (--fail-after) after \(elapsed) (\(runs)); last code \(report.code)")
        } else {
            progress.finish("wait: not ready after \(elapsed) (\(runs)); last code \(report.code)")
        }
        Platform.writeStdout(Render.render(report, as: format))
        return report.code
    }

    /// What the loop ended with.
    struct Outcome: Sendable {
        /// The last finished report (nil: none finished).
        var last: ProbeReport?
        var attempts: Int
        var gate: WaitGate
        /// --fail-after ended the wait.
        var failedTooLong = false
    }

    /// Runs until ready (and stable), a failure that lasted --fail-after, the deadline or cancellation.
    static func loop(_ entries: [CheckEntry], settings: ProbeSettings, deadline: Deadline, interval: Duration,
                     gate initial: WaitGate = WaitGate(), progress: Progress) async -> Outcome {
        var out = Outcome(last: nil, attempts: 0, gate: initial)
        var damper = ThresholdDamper()  // failure_threshold / success_threshold, as serve applies them
        while !Task.isCancelled {
            let remaining = deadline.remaining
            if remaining < .milliseconds(10) { break }
            let began = ContinuousClock.now
            let capped = remaining < settings.timeout
            let report = damper.apply(await ProbeRunner.run(entries, settings: settings, timeout: min(settings.timeout, remaining)),
                                      entries: entries)
            ProcessRunner.shared.killOrphans()
            if Task.isCancelled { break }
            out.attempts += 1
            progress.update(attempt: out.attempts, report: report)
            // A run cut short by the wait's own deadline says less than the previous full run.
            if capped && report.code == Codes.deadlineExceeded && out.last != nil { break }
            out.last = report
            switch out.gate.observe(report.code, at: .now) {
            case .ready: return out
            case .failedTooLong:
                out.failedTooLong = true
                return out
            case .keepWaiting: break
            }
            // The next run at the interval, or as soon as the streak can end the wait.
            let next = min(began + interval, out.gate.nextDecision ?? began + interval)
            if next >= deadline.instant { break }
            try? await Task.sleep(until: next, clock: .continuous)
        }
        return out
    }

    /// `--stable-for` and `--fail-after`: how long the current streak of ready (code 0) or failing
    /// results has lasted, from the end of its first run to the end of the latest. Pure, for tests.
    struct WaitGate: Sendable {
        var stableFor: Duration? = nil
        var failAfter: Duration? = nil
        /// When the first run of the current ready streak ended (nil: the last result failed).
        var passingSince: ContinuousClock.Instant? = nil
        /// When the first run of the current failing streak ended (nil: the last result was 0).
        var failingSince: ContinuousClock.Instant? = nil
        /// When the latest result was seen.
        var lastSeen: ContinuousClock.Instant? = nil

        enum Verdict: Sendable, Equatable { case keepWaiting, ready, failedTooLong }

        mutating func observe(_ code: Int32, at now: ContinuousClock.Instant) -> Verdict {
            lastSeen = now
            if code == Codes.ready {
                failingSince = nil
                let since = passingSince ?? now
                passingSince = since
                guard let stableFor else { return .ready }
                return now - since >= stableFor ? .ready : .keepWaiting
            }
            passingSince = nil
            let since = failingSince ?? now
            failingSince = since
            if let failAfter, now - since >= failAfter { return .failedTooLong }
            return .keepWaiting
        }

        /// The latest result was 0 and the streak is long enough (or no --stable-for was asked).
        var isStable: Bool {
            guard let since = passingSince, let lastSeen else { return false }
            guard let stableFor else { return true }
            return lastSeen - since >= stableFor
        }

        /// The instant at which the current streak would end the wait, if a run then agrees.
        var nextDecision: ContinuousClock.Instant? {
            if let since = passingSince, let stableFor { return since + stableFor }
            if let since = failingSince, let failAfter { return since + failAfter }
            return nil
        }

        /// `report` (ready) turned into code 9: ready, but not yet for --stable-for. The rows stay
        /// as they were (every check passed); the summary says why the code is 9.
        func notYetStable(_ report: ProbeReport, ended: String) -> ProbeReport {
            let held = passingSince.flatMap { p in lastSeen.map { $0 - p } } ?? .zero
            let need = stableFor.map(DurationText.format) ?? "0s"
            let heldText = Decimal1.format(Double(held.milliseconds) / 1000, digits: 1, fixed: true)
            return ProbeReport(code: Codes.deadlineExceeded,
                               summary: "ready for \(heldText)s, not yet the \(need) --stable-for needs; \(ended) first",
                               durationMs: report.durationMs, results: report.results, finishedAt: report.finishedAt)
        }
    }

    /// Progress on stderr: in place on a terminal, else one line per change of code.
    final class Progress: Sendable {
        let terminal: Bool
        let started = ContinuousClock.now
        private let lastCode = Mutex<Int32?>(nil)

        init(terminal: Bool) { self.terminal = terminal }

        var elapsed: Duration { .now - started }

        func update(attempt: Int, report: ProbeReport) {
            let seconds = Decimal1.format(Double(elapsed.milliseconds) / 1000, digits: 1, fixed: true)
            let line = "wait: \(seconds)s, run \(attempt): \(Render.firstLine(report))"
            if terminal {
                Platform.writeStderr("\r\u{1B}[K" + String(line.prefix(160)))
                return
            }
            let changed = lastCode.withLock { c -> Bool in
                defer { c = report.code }
                return c != report.code
            }
            if changed { Platform.writeStderr(line + "\n") }
        }

        func finish(_ line: String) {
            Platform.writeStderr((terminal ? "\r\u{1B}[K" : "") + line + "\n")
        }
    }
}
