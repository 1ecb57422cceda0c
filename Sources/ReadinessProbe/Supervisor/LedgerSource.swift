// The event listener's ledger as a source of supervisor state (source = events, or auto
// when the ledger is fresh). See docs/event-listener.md.
//
// The ledger is trusted only when `Ledger.trusted` says so: its folder and file are safe, its
// writers (the listener and supervisord) are alive now, it is fresh and complete. Otherwise
// the failure has code 11 (3 when supervisord is gone or stopping); `auto` then asks XML-RPC.
import ProbeSupport

enum LedgerSource {
    /// The ledger's snapshot, or why it cannot be trusted (missing, stale, unreadable).
    static func snapshot(_ settings: ProbeSettings) -> Result<SupervisorSnapshot, SupervisorFailure> {
        snapshot(settings, now: Platform.epochSeconds())
    }

    static func snapshot(_ settings: ProbeSettings, now: Double) -> Result<SupervisorSnapshot, SupervisorFailure> {
        // The trust rules (folder, owner, writer alive, fresh, complete) live in Listener/WriterTrust.swift.
        switch Ledger.trusted(settings, now: now) {
        case .success(let ledger): return .success(ledger.snapshot(now: now, hold: settings.listener.failureHold))
        case .failure(let f): return .failure(SupervisorFailure(code: f.code, detail: f.detail, summary: f.summary))
        }
    }
}
