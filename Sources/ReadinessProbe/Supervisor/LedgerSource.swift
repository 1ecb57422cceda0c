// The event listener's ledger as a source of supervisor state (source = events, or auto
// when the ledger is fresh). See docs/event-listener.md.
//
// The ledger is trusted only when it exists, parses, was seeded from getAllProcessInfo
// (`complete`), the listener has not ended (`closed`), and it was written within
// `[supervisor] ledger_max_age` (the listener rewrites it on every TICK). Otherwise the
// failure has code 11 (no fresh result); `auto` then asks XML-RPC instead.

public enum LedgerSource {
    /// The ledger's snapshot, or why it cannot be trusted (missing, stale, unreadable).
    public static func snapshot(_ settings: ProbeSettings) -> Result<SupervisorSnapshot, SupervisorFailure> {
        snapshot(settings, now: Platform.epochSeconds())
    }

    public static func snapshot(_ settings: ProbeSettings, now: Double) -> Result<SupervisorSnapshot, SupervisorFailure> {
        let path = Ledger.path(settings)
        func stale(_ detail: String, _ summary: String) -> Result<SupervisorSnapshot, SupervisorFailure> {
            .failure(SupervisorFailure(code: Codes.noFreshResult, detail: detail, summary: summary))
        }
        let ledger: Ledger
        do {
            guard let l = try Ledger.read(path: path) else {
                return stale("no event listener ledger at \(path) (is `readiness-probe listen` running as a supervisord [eventlistener]?)",
                             "no event listener ledger")
            }
            ledger = l
        } catch {
            return stale("event listener ledger unreadable: \(error.reason)", "event listener ledger unreadable")
        }
        if ledger.closed {
            return stale("the event listener has stopped (its stdin was closed) and no longer keeps \(path)",
                         "event listener stopped")
        }
        let age = now - ledger.writtenAt
        let maxAge = settings.supervisor.ledgerMaxAge.secondsDouble
        if age > maxAge || age < -maxAge {
            return stale("event listener ledger \(path) is \(Decimal1.format(age, digits: 1))s old "
                         + "(ledger_max_age \(DurationText.format(settings.supervisor.ledgerMaxAge)); is the listener subscribed to TICK_5?)",
                         "event listener ledger is stale")
        }
        if !ledger.complete {
            return stale("event listener ledger is incomplete: the listener could not ask supervisord for every program yet (it retries on TICK)",
                         "event listener ledger is incomplete")
        }
        if ledger.supervisordState == "STOPPING" {
            return .failure(SupervisorFailure(detail: "supervisord is shutting down (SUPERVISOR_STATE_CHANGE_STOPPING seen by the event listener)",
                                              summary: "supervisord is shutting down"))
        }
        return .success(ledger.snapshot(now: now, hold: settings.listener.failureHold))
    }
}
