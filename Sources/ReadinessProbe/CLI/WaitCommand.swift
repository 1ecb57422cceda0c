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
        usage: "[--timeout D] [--interval D] [--config PATH] [--format summary|table|json|verbose] [--only NAMES] [--exclude NAMES]",
        options: [
            CLI.configOption,
            OptionSpec("--timeout", short: "-t", value: "DURATION", help: "How long to wait in all (default 300s)."),
            OptionSpec("--interval", short: "-i", value: "DURATION", help: "From the start of one run to the next (default 2s)."),
            .format(OutputFormat.self, help: "How to print the final result: " + OutputFormat.choices + "."),
        ] + CLI.selectionOptions,
        discussion: """
        Each run has the [probe] timeout, cut to the time left. Progress goes to stderr: a line updated in place
        on a terminal, else one line per change of code. The final result goes to stdout.
        Exit status: 0 when ready; at the deadline, the last run's code; on SIGTERM/SIGINT, the last code,
        or 9 if no run finished. See docs/wait.md.
        """,
        examples: [
            CommandExample("wait --timeout 120s", "Block an upgrade script until the container is ready (at most 2 minutes)."),
            CommandExample("wait -t30s -i500ms --only start --format json", "Wait for one check, polling every 500ms; print JSON."),
        ])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        Platform.blockSignals([SIGTERM, SIGINT])
        let total = try ArgumentParser.duration(args, "--timeout", spec) ?? .seconds(300)
        let interval = try ArgumentParser.duration(args, "--interval", spec) ?? .seconds(2)
        let format: OutputFormat = try ArgumentParser.choice(args, "--format", spec, default: .summary)
        let config = try CLI.loadConfiguration(args, inv)
        let entries = try RunCommand.select(config.entries, only: args.list("--only"), exclude: args.list("--exclude"), spec: spec)
        let progress = Progress(terminal: Platform.isTerminal(2))
        let settings = config.settings
        let deadline = Deadline.after(total)
        let task = Task.detached {
            await loop(entries, settings: settings, deadline: deadline, interval: interval, progress: progress)
        }
        let signalled = Atomic<Int32>(0)
        PlainThread.detach {
            let s = Platform.waitForSignal([SIGTERM, SIGINT])
            signalled.store(s, ordering: .sequentiallyConsistent)
            task.cancel()
        }
        let (last, attempts) = Blocking.await { await task.value }
        let signal = signalled.load(ordering: .sequentiallyConsistent)
        let elapsed = DurationText.format(.milliseconds(progress.elapsed.milliseconds / 100 * 100))
        let report = last ?? ProbeReport(code: Codes.deadlineExceeded,
                                         summary: signal != 0 ? "stopped by \(Signals.name(signal)) before a run finished"
                                                              : "no run finished before the deadline",
                                         durationMs: 0, results: [], finishedAt: Platform.epochSeconds())
        let plural = attempts == 1 ? "" : "s"
        if report.ready {
            progress.finish("wait: ready after \(elapsed) (\(attempts) run\(plural))")
        } else if signal != 0 {
            progress.finish("wait: stopped by \(Signals.name(signal)) after \(elapsed) (\(attempts) run\(plural)); last code \(report.code)")
        } else {
            progress.finish("wait: not ready after \(elapsed) (\(attempts) run\(plural)); last code \(report.code)")
        }
        Platform.writeStdout(Render.render(report, as: format))
        return report.code
    }

    /// Runs until ready, the deadline or cancellation. Returns the last finished report and how many runs finished.
    static func loop(_ entries: [CheckEntry], settings: ProbeSettings, deadline: Deadline, interval: Duration,
                     progress: Progress) async -> (ProbeReport?, Int) {
        var last: ProbeReport?
        var attempts = 0
        while !Task.isCancelled {
            let remaining = deadline.remaining
            if remaining < .milliseconds(10) { break }
            let began = ContinuousClock.now
            let capped = remaining < settings.timeout
            let report = await ProbeRunner.run(entries, settings: settings, timeout: min(settings.timeout, remaining))
            ProcessRunner.shared.killOrphans()
            if Task.isCancelled { break }
            attempts += 1
            // A run cut short by the wait's own deadline says less than the previous full run.
            if !(capped && report.code == Codes.deadlineExceeded && last != nil) { last = report }
            progress.update(attempt: attempts, report: report)
            if report.ready { break }
            let next = began + interval
            if next >= deadline.instant { break }
            try? await Task.sleep(until: next, clock: .continuous)
        }
        return (last, attempts)
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
