// The supervisord snapshot a run's checks read, and how a failure to get one maps to a row
// (code 3, or 11 for an untrusted ledger). The sources that produce it: SupervisorView.swift
// (XML-RPC, `supervisorctl status`) and LedgerSource.swift (the event listener's ledger).
import ProbeSupport
import SupervisorKit

/// What a run got from supervisord: its processes, or why it could not be asked.
public typealias SupervisorResult = Result<SupervisorSnapshot, SupervisorFailure>

/// Where a run's supervisord snapshot comes from: fetched once by the run (from the configured
/// source), or given by the caller (the event listener passes its in-memory ledger).
public enum SupervisorInput: Sendable {
    case fetch
    case given(SupervisorResult)
}

/// supervisord's processes as one run sees them (one fetch per run, or the snapshot given).
public struct SupervisorSnapshot: Sendable, Equatable {
    /// Every process supervisord reported (or the ones the run asked for).
    public var processes: [SupervisorProcess]
    /// `xmlrpc`, `supervisorctl` or `events`.
    public var source: String
    /// Groups that are event-listener pools (never critical by `*`).
    var listenerGroups: Set<String>
    /// sd_notify state per program (from the listener's ledger; nil for other sources).
    var notify: NotifySnapshot? = nil
    /// Recent exits per program (from the listener's ledger; empty for other sources, which
    /// cannot count them): what `[programs] crash_loop` judges.
    var exits: [ProgramExits] = []

    /// A snapshot (tests, `.given` runs); `listenerGroups` are event-listener pools (never critical by `*`).
    public init(processes: [SupervisorProcess], source: String, listenerGroups: Set<String> = []) {
        self.processes = processes
        self.source = source
        self.listenerGroups = listenerGroups
    }

    /// A process by `group:name`, or by name.
    public func find(_ name: String) -> SupervisorProcess? {
        processes.first { $0.namespec == name } ?? processes.first { $0.name == name }
    }
}

/// A program's recent exits as the event listener counted them (Ledger.swift).
struct ProgramExits: Sendable, Equatable {
    var namespec: String
    /// Its real state now (the snapshot's process may show a latched failure instead).
    var state: ProcessState
    /// Epoch seconds since it is RUNNING (nil: not RUNNING).
    var runningSince: Double?
    /// Epoch seconds of each exit (EXITED or BACKOFF), oldest first.
    var exits: [Double]

    init(namespec: String, state: ProcessState, runningSince: Double?, exits: [Double]) {
        self.namespec = namespec
        self.state = state
        self.runningSince = runningSince
        self.exits = exits
    }
}

/// Why supervisord could not be asked (code 3), or why its answer cannot be trusted.
public struct SupervisorFailure: Error, Sendable, Equatable {
    /// The row's code: 3, or 11 for a ledger that cannot be trusted.
    public var code: Int32
    /// One line: what went wrong, and what to do.
    public var detail: String
    /// A stable phrase for the probe's first line.
    public var summary: String
    /// The protocol error behind it, when there is one.
    var cause: SupervisorError? = nil

    init(code: Int32 = Codes.supervisorUnavailable, detail: String, summary: String) {
        self.code = code
        self.detail = detail
        self.summary = summary
    }

    /// The failing outcome a supervisor check answers.
    public var outcome: CheckOutcome { .fail(code, detail, summary: summary) }
}

extension SupervisorFailure {
    /// Code 3 with the error's one-line description and a stable summary.
    init(_ error: SupervisorError) {
        let summary: String
        switch error.code {
        case .noSocket: summary = "supervisord unreachable: no socket"
        case .connectionRefused: summary = "supervisord unreachable: connection refused"
        case .permissionDenied: summary = "supervisord unreachable: permission denied"
        case .connectFailed: summary = "supervisord unreachable"
        case .authenticationRequired, .authenticationFailed: summary = "supervisord refused authentication"
        case .shuttingDown: summary = "supervisord is shutting down"
        case .fault: summary = "supervisord returned a fault"
        case .httpStatus: summary = "supervisord answered an HTTP error"
        case .malformedReply: summary = "malformed reply from supervisord"
        case .timedOut: summary = "supervisord did not answer in time"
        case .supervisorctlFailed: summary = "supervisorctl failed"
        case .invalidServerURL: summary = "invalid supervisord server URL"
        case .configUnreadable: summary = "cannot read supervisord config"
        default: summary = "supervisord cannot be asked"
        }
        self.init(detail: error.description, summary: summary)
    }
}
