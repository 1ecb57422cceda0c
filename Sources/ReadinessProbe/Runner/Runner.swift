// The runner's entry points. Both run the one executor (Executor.swift) under one plan
// (RunPlan.swift): `runBlocking` on the calling thread, `run` on a thread of its own for callers
// in Swift concurrency (serve, wait), where cancelling the calling task stops the run.
import ProbeSupport

/// Runs checks: every check of a run at once, under one overall deadline, with one
/// supervisord snapshot per run; returns the table as a `ProbeReport`.
public enum ProbeRunner {
    /// Runs every check once, all at once, under one overall deadline (`timeout`, else
    /// `[probe] timeout`), and returns the table. `supervisor`: fetch the snapshot (once), or
    /// use the one given (the event listener's ledger). `services`: shared by the run's plugin
    /// checks (made when one needs it). Cancelling the calling task stops the run: hooks are
    /// killed and reaped, and unfinished checks are code 9.
    public static func run(_ entries: [CheckEntry], settings: ProbeSettings, timeout: Duration? = nil,
                           supervisor: SupervisorInput = .fetch, services: RunServices? = nil) async -> ProbeReport {
        let control = RunControl()
        return await withTaskCancellationHandler {
            await Blocking.run {
                runBlocking(entries, settings: settings, timeout: timeout, supervisor: supervisor, services: services,
                            control: control)
            }
        } onCancel: {
            control.stop()
        }
    }

    /// `run` on the calling thread. `control` stops it from another thread or on a signal.
    static func runBlocking(_ entries: [CheckEntry], settings: ProbeSettings, timeout: Duration? = nil,
                                   supervisor: SupervisorInput = .fetch, services: RunServices? = nil,
                                   control: RunControl = RunControl()) -> ProbeReport {
        let plan = RunPlan(entries, settings: settings, timeout: timeout)
        return Executor.run(entries, plan: plan, settings: settings, supervisor: .input(supervisor), services: services,
                            control: control)
    }

    /// A built-in check's `check(_:)`: its work, run on its own under the context's deadline and
    /// with the context's supervisord snapshot.
    static func outcome(of check: any Check, _ context: CheckContext) async -> CheckOutcome {
        let entry = CheckEntry(name: "check", kind: "check", origin: "check(_:)", check: check)
        let plan = RunPlan([entry], settings: context.settings, timeout: context.deadline.remaining)
        let report = await Blocking.run {
            Executor.run([entry], plan: plan, settings: context.settings, supervisor: .shared(context.supervisor),
                         services: context.services, control: RunControl())
        }
        let row = report.results[0]
        return CheckOutcome(status: row.status, code: row.code, detail: row.detail, summary: row.summary)
    }
}
