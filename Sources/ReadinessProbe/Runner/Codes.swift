// The code table: the one source for exit statuses and per-check codes.
// `readiness-probe codes` prints it and docs/codes.md must equal that output.
import ProbeSupport

/// A documented result code (or range of codes).
public struct CodeInfo: Sendable {
    /// The code, or the range of codes (`16...254` for hooks' own).
    public var range: ClosedRange<Int32>
    /// Its short name (`supervisor-unavailable`).
    public var name: String
    /// What it means and what to do (one paragraph, Markdown).
    public var meaning: String

    /// `3`, or `16-254` for a range.
    public var label: String { range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)" }
}

/// The documented result codes: the one table `readiness-probe codes` prints and docs/codes.md
/// shows. A plugin picks codes from 16 to 254 for its own causes, or reuses a documented one.
public enum Codes {
    static let ready: Int32 = 0
    static let hookFailed: Int32 = 1
    static let startNotDone: Int32 = 2
    static let supervisorUnavailable: Int32 = 3
    static let programNotRunning: Int32 = 4
    static let appStateBad: Int32 = 5
    /// A check (any kind) ran past its own timeout.
    static let checkTimedOut: Int32 = 6
    static let hookNotStarted: Int32 = 7
    static let invalidConfig: Int32 = 8
    static let deadlineExceeded: Int32 = 9
    static let reportNotAccepted: Int32 = 10
    static let noFreshResult: Int32 = 11
    static let programNotReady: Int32 = 12
    /// A critical program keeps exiting and being restarted ([programs] crash_loop).
    static let crashLooping: Int32 = 13
    /// The probe itself could not do its work (bind, write): not a check's verdict.
    static let systemError: Int32 = 14

    /// Every code, in order.
    public static let table: [CodeInfo] = [
        CodeInfo(range: 0...0, name: "ready", meaning: "Every check passed (or only warned)."),
        CodeInfo(range: 1...1, name: "hook-failed",
                 meaning: "A hook failed without a code of its own: it exited 1 (also Python's crash status) or with a reserved code (2-15, 255); a check (a plugin's) failed without giving a code. `notify` exits 1 when it could not send, as systemd-notify does."),
        CodeInfo(range: 2...2, name: "start-not-done",
                 meaning: "The start program has not finished successfully: still starting or running; exited with a status outside its exitcodes; BACKOFF or FATAL; stopped before it finished. SONiC uses 2 for the same cause."),
        CodeInfo(range: 3...3, name: "supervisor-unavailable",
                 meaning: "supervisord cannot be asked: no socket; connection refused (stale socket); permission or authentication refused; shutting down (SHUTDOWN_STATE); reply malformed or too slow; supervisorctl failed."),
        CodeInfo(range: 4...4, name: "program-not-running",
                 meaning: "A program that must be running is not: STOPPED, STARTING, EXITED, BACKOFF, FATAL, missing, or an unexpected exit seen by the event listener."),
        CodeInfo(range: 5...5, name: "app-state-bad",
                 meaning: "The application's own health state is bad: pid file missing, not a number, or the process is gone; error file missing, or not exactly 0."),
        CodeInfo(range: 6...6, name: "check-timeout",
                 meaning: "A check ran past its own timeout (its `timeout` key; a hook's default is [probe] hook_timeout). A hook's whole process group was killed and reaped."),
        CodeInfo(range: 7...7, name: "hook-not-started",
                 meaning: "A hook could not be started (missing, not executable, unsafe permissions or owner) or was killed by a signal."),
        CodeInfo(range: 8...8, name: "invalid-config",
                 meaning: "The configuration or command line is invalid. The message names the file and line."),
        CodeInfo(range: 9...9, name: "deadline",
                 meaning: "The overall deadline ran out before every check finished (or the run was stopped); unfinished checks show code 9, and a hook's whole process group was killed and reaped."),
        CodeInfo(range: 10...10, name: "report-not-accepted",
                 meaning: "report kuberhealthy: the report could not be delivered or was refused (400, 410 Gone, retries exhausted before the deadline)."),
        CodeInfo(range: 11...11, name: "no-fresh-result",
                 meaning: "run --cached, serve: no result yet, or the cached result or the listener's ledger is older than its max age. Never read as ready. Also a check with success_threshold that has not yet passed that many times in a row since serve, listen or wait started."),
        CodeInfo(range: 12...12, name: "program-not-ready",
                 meaning: "A notify program is RUNNING but not ready: no READY=1 since its start, RELOADING=1 or STOPPING=1 sent, its watchdog expired or was triggered, or no notify socket. The detail has its last STATUS= and how long it has waited (docs/notify.md)."),
        CodeInfo(range: 13...13, name: "crash-loop",
                 meaning: "A critical program is crash-looping: it exited (EXITED, or BACKOFF before it was RUNNING) [programs] crash_loop times within its window (default 3/60s), and has not stayed RUNNING for that window since; reported even while it is momentarily RUNNING or STARTING. Counted by the event listener; once supervisord gives up (FATAL) the code is 4."),
        CodeInfo(range: 14...14, name: "system-error",
                 meaning: "The probe could not do its own work: `serve` could not listen on its address (in use, not permitted), start its threads (`ulimit -v`) or fit its connections in the open-file limit (`ulimit -n`); `state` could not create, write or remove a state file; `history`/`timeline` found a history file they may not trust (docs/history.md); `listen` lost its stdin or stdout (supervisord's event pipe). The message names the address or path and the system error."),
        CodeInfo(range: 15...15, name: "reserved", meaning: "Reserved for the framework."),
        CodeInfo(range: 16...254, name: "hook-code",
                 meaning: "A failing hook's own exit status, passed through unchanged."),
    ]

    /// The entry of `code`, or nil for an undocumented one.
    public static func info(_ code: Int32) -> CodeInfo? { table.first { $0.range.contains(code) } }

    /// Maps a hook's exit status to a probe code: 0 stays 0, 16-254 pass through,
    /// 1-15 and 255 become 1.
    static func forHookExit(_ status: Int32) -> Int32 {
        if status == 0 { return 0 }
        if (16...254).contains(status) { return status }
        return hookFailed
    }

    /// The table as Markdown: the exact content of docs/codes.md.
    static func markdown() -> String {
        var out = "# Result codes\n\n"
        out += "The probe's exit status and every check's code. `readiness-probe codes` prints this page;\n"
        out += "`make docs` regenerates it and a test fails if the two differ.\n\n"
        out += "The probe exits with the code of the first failing check in table order (start program,\n"
        out += "supervisor programs, application states, hooks). A check with `severity = warn` never fails the probe.\n\n"
        out += "| code | name | meaning |\n|---|---|---|\n"
        for row in table {
            out += "| \(row.label) | \(row.name) | \(row.meaning) |\n"
        }
        return out
    }

    /// The version id of `codes --format json`: docs/schema/codes.schema.json.
    static let jsonSchema = "readiness-probe/codes/1"

    /// `{"schema", "codes": [{"label", "from", "to", "name", "meaning"}]}`: one row per line of the
    /// table; `from`/`to` are numbers (equal for a single code), `label` is the table's text (`16-254`).
    static func json() -> String {
        let rows: [JSONValue] = table.map {
            .object([
                ("label", .string($0.label)), ("from", .number(Double($0.range.lowerBound))),
                ("to", .number(Double($0.range.upperBound))), ("name", .string($0.name)), ("meaning", .string($0.meaning)),
            ])
        }
        return JSON.serialize(.object([("schema", .string(jsonSchema)), ("codes", .array(rows))])) + "\n"
    }
}
