// `readiness-probe timeline`: the current supervisord's start-up from the history (docs/history.md).
import ProbeSupport
import SupervisorKit

enum TimelineCommand: CLICommand {
    static let name = "timeline"
    enum Format: String, CaseIterable { case table, json }

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Show when each program of the current supervisord reached STARTING, RUNNING, READY, EXITED, and the critical chain to ready.",
        usage: "[--format table|json] [--config PATH]",
        options: [
            CLI.configOption,
            .format(Format.self, help: "table (default) or json (times in seconds after supervisord started)."),
        ],
        discussion: """
        Times are seconds after supervisord started: STARTING, RUNNING and EXITED from supervisord's own
        log (asked over XML-RPC, the last 1 MiB), else from the event listener's records in the history
        (<rundir>/readiness-probe/history: when the listener received the events, up to a second late);
        READY from the listener. The current supervisord is the one named in the listener's ledger.
        The critical chain lists what the container waited for: the start program's EXITED, each critical
        program's RUNNING (READY for a program that sent sd_notify READY=1), latest first.
        Exit status: 0; 11 when there is no event listener ledger; 14 when the history or the ledger may not be trusted.
        """,
        examples: [
            CommandExample("timeline", "How long the start-up took, and which program it waited for last."),
            CommandExample("timeline --format json", "The same as JSON."),
        ])

    static let command = CLI.Command(name: "timeline", spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        let format: Format = try ArgumentParser.choice(args, "--format", spec, default: .table)
        let config = try CLI.loadConfiguration(args, inv)
        let ledgerPath = Ledger.path(config.settings)
        let found: Ledger?
        do throws(Ledger.DecodeError) { found = try Ledger.read(path: ledgerPath) } catch {
            throw ExitError(Codes.systemError, "readiness-probe timeline: event listener ledger \(error.reason)")
        }
        guard let ledger = found else {
            throw ExitError(Codes.noFreshResult, "readiness-probe timeline: no event listener ledger at \(ledgerPath): the timeline comes from `readiness-probe listen` (docs/event-listener.md)")
        }
        guard let sv = ledger.writer.supervisord, let startedAt = Timeline.epoch(of: sv) else {
            throw ExitError(Codes.noFreshResult, "readiness-probe timeline: the event listener ledger \(ledgerPath) does not say which supervisord it serves (yet)")
        }
        let log: HistoryLog
        switch HistoryFile(settings: config.settings).read() {
        case .failure(let e): throw ExitError(Codes.systemError, "readiness-probe timeline: \(e.message)")
        case .success(let l): log = l
        }
        for w in log.warnings { Platform.writeStderr("readiness-probe timeline: warning: \(w)\n") }
        let t = Timeline(records: log.records, supervisord: sv, startedAt: startedAt, watched: WatchedPrograms.of(config.entries),
                         log: supervisordLog(config.settings, pid: sv.pid, startedAt: startedAt))
        Platform.writeStdout(format == .json ? t.json : t.table)
        return 0
    }

    /// supervisord's own transition times from the last 1 MiB of its main log (readLog, 3 s
    /// deadline), or nil when it cannot be asked or the log does not reach back to its start.
    static func supervisordLog(_ settings: ProbeSettings, pid: Int, startedAt: Double) -> SupervisordLogTimes? {
        do throws(SupervisorError) {
            let client = SupervisorClient(location: try SupervisorView.locate(settings))
            let text = try client.call(method: "supervisor.readLog", params: [.int(-(1 << 20)), .int(0)], deadline: .after(.seconds(3)))
            guard let log = text.stringValue else { return nil }
            return SupervisordLogTimes.parse(log, supervisordPID: pid, startedAt: startedAt)
        } catch {
            return nil
        }
    }
}
