// What a writer records after a check run: one record per check whose code changed since the
// codes recorded last (its first record has `from: null`), then one for the overall result if it
// changed; the batch's last record carries every code (HistoryRecord.codes), so the next writer,
// in any process, knows every `from` by reading only the file's tail.

import ProbeSupport
enum HistoryRecorder {
    /// The records that `report` adds to a log whose last recorded codes are `previous`.
    static func changes(_ report: ProbeReport, previous: [HistoryCode]?, by: String, at: Double) -> [HistoryRecord] {
        func last(_ name: String) -> Int32? { previous?.first(where: { $0.check == name })?.code }
        var out: [HistoryRecord] = []
        for row in report.results {
            let before = last(row.name)
            if before == row.code { continue }
            out.append(HistoryRecord(at: at, by: by, check: row.name, from: before, to: row.code, detail: row.detail,
                                     output: row.kind == "hook" ? hookOutputLine(row) : nil))
        }
        let overall = last("")
        if overall != report.code {
            out.append(HistoryRecord(at: at, by: by, check: "", from: overall, to: report.code, detail: report.summary))
        }
        if !out.isEmpty {
            out[out.count - 1].codes = [HistoryCode("", report.code)] + report.results.map { HistoryCode($0.name, $0.code) }
        }
        return out
    }

    /// A hook's first output line, from its row (HookCheck: "exited 3: LINE", or LINE on a pass).
    static func hookOutputLine(_ row: CheckResult) -> String? {
        if row.status == .pass { return row.detail == "exited 0" ? nil : row.detail }
        if row.detail.hasPrefix("exited "), let r = row.detail.firstRange(of: ": ") {
            let line = String(row.detail[r.upperBound...])
            return line.isEmpty ? nil : line
        }
        return nil
    }

    /// Records a finished run in the settings' history file (when `[history] enabled`). Returns
    /// the records written; throws why nothing could be written.
    @discardableResult
    static func record(_ report: ProbeReport, settings: ProbeSettings, by: String) throws(HistoryError) -> [HistoryRecord] {
        guard settings.history.enabled else { return [] }
        let at = report.finishedAt
        return try HistoryFile(settings: settings).append { previous in changes(report, previous: previous, by: by, at: at) }
    }
}
