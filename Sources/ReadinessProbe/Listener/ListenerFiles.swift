// Every write of the listener's two files (ledger.json, result.json), from any of its threads:
// the protocol loop, the background check run and the signal thread. Writes go through the
// folder's descriptor (WriterTrust.openFolder), one at a time; once `close` has run (SIGTERM,
// end of input) nothing else is written, so a late background run cannot reopen a closed
// listener's result.
@preconcurrency import Glibc
import ProbeSupport
import Synchronization

final class ListenerFiles: Sendable {
    struct State: Sendable {
        /// The folder's descriptor, or -1 (then `problem` says why nothing is written).
        var dirFD: Int32 = -1
        var problem: String? = nil
        /// The ledger as last written (the signal thread closes this one).
        var last: Ledger? = nil
        var writer = WriterIdentity(bootID: nil, listener: nil, supervisord: nil)
        var supervisordState = "RUNNING"
        var closed = false
    }

    let folder: String
    let state = Mutex(State())
    static let ledgerName = "ledger.json"
    static let resultName = "result.json"

    init(folder: String) {
        self.folder = folder
    }

    /// Opens (creating or checking) the folder and removes stale temporary files. Returns the
    /// messages to log (a warning or an error). Called at start-up and, while the folder is
    /// refused, on every TICK.
    func open() -> [String] {
        state.withLock { s -> [String] in
            if s.dirFD >= 0 { return [] }
            let (fd, message) = WriterTrust.openFolder(folder)
            var out: [String] = []
            if fd < 0 {
                let m = "error: \(message ?? "cannot open \(folder)"); the ledger and the cached result are not written"
                if m != s.problem.map({ "error: \($0); the ledger and the cached result are not written" }) { out.append(m) }
                s.problem = message
                return out
            }
            if let message { out.append("warn: \(message)") }
            s.dirFD = fd
            s.problem = nil
            let removed = WriterTrust.removeStaleTemporaries(dirFD: fd)
            if !removed.isEmpty { out.append("removed temporary files a killed writer left in \(folder): \(removed.joined(separator: ", "))") }
            return out
        }
    }

    var isOpen: Bool { state.withLock { $0.dirFD >= 0 } }

    /// Writes the ledger (stamped `now`); false when nothing was written: closed, or the folder
    /// is refused (`open` logged why).
    func writeLedger(_ ledger: Ledger, now: Double) throws(SystemError) -> Bool {
        var l = ledger
        l.writtenAt = now
        return try state.withLock { s throws(SystemError) -> Bool in
            if s.closed { return false }
            guard s.dirFD >= 0 else { return false }
            try WriterTrust.writeAtomically(dirFD: s.dirFD, name: Self.ledgerName, l.encoded())
            s.last = l
            s.writer = l.writer
            return true
        }
    }

    /// Writes a check run's report, unless the listener is closed or supervisord is stopping.
    func writeResult(_ report: ProbeReport) throws(SystemError) {
        try state.withLock { s throws(SystemError) in
            if s.closed || s.supervisordState != "RUNNING" || s.dirFD < 0 { return }
            try WriterTrust.writeAtomically(dirFD: s.dirFD, name: Self.resultName, CachedResult.encode(report, writer: s.writer))
        }
    }

    /// supervisord's state changed: STOPPING replaces the cached result with a marker (readers
    /// answer 3); RUNNING lets the next run write again.
    func supervisordState(_ state: String) {
        self.state.withLock { s in
            if s.supervisordState == state { return }
            s.supervisordState = state
            if s.closed || s.dirFD < 0 || state == "RUNNING" { return }
            try? WriterTrust.writeAtomically(dirFD: s.dirFD, name: Self.resultName,
                                            CachedResult.encode(nil, writer: s.writer, supervisordState: state))
        }
    }

    /// Marks both files closed (once) and stops every later write: the ledger as `current` (the
    /// protocol thread's, at end of input) or as last written (from the signal thread). Returns
    /// whether this call closed them.
    @discardableResult
    func close(current: Ledger? = nil, now: Double = Platform.epochSeconds()) -> Bool {
        state.withLock { s -> Bool in
            if s.closed { return false }
            s.closed = true
            guard s.dirFD >= 0 else { return true }
            if var l = current ?? s.last {
                l.closed = true
                l.writtenAt = now
                try? WriterTrust.writeAtomically(dirFD: s.dirFD, name: Self.ledgerName, l.encoded())
            }
            try? WriterTrust.writeAtomically(dirFD: s.dirFD, name: Self.resultName,
                                            CachedResult.encode(nil, writer: s.writer, closed: true,
                                                                supervisordState: s.supervisordState, now: now))
            return true
        }
    }
}
