// The event listener's ledger as a source of supervisor state (source = events, or auto
// when the ledger is fresh). Filled in by the listener work (docs/event-listener.md).

public enum LedgerSource {
    /// The ledger's snapshot, or why it cannot be trusted (missing, stale, unreadable).
    public static func snapshot(_ settings: ProbeSettings) -> Result<SupervisorSnapshot, SupervisorFailure> {
        .failure(SupervisorFailure(detail: "no event listener ledger under \(settings.rundir)/readiness-probe",
                                   summary: "no event listener ledger"))
    }
}
