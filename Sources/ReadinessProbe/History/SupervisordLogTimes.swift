// supervisord's own times for its programs' transitions, from its main log, for `timeline`
// (docs/history.md, "Start-up timeline").
//
// The listener's records carry the time it received each event, and supervisord delivers an event
// only on the pass of its main loop after the one that made it: that loop sleeps in poll() for up
// to a second, so an EXITED (made when the child is reaped) or a RUNNING (made when startsecs
// have passed) reaches the listener up to about a second after it happened, and a listener busy at
// start-up (its seed) receives the first events in a burst. supervisord logs each transition the
// moment it makes it, with milliseconds: `spawned: 'NAME' with pid N` (STARTING), `success: NAME
// entered RUNNING state` (RUNNING), `exited: NAME (...; expected)` (EXITED).
import ProbeSupport

struct SupervisordLogTimes: Sendable, Equatable {
    struct Times: Sendable, Equatable {
        var starting: Double? = nil
        var running: Double? = nil
        /// The first expected exit (a start program's end).
        var exited: Double? = nil
    }

    /// Per process name (supervisord logs the name, not group:name), epoch seconds, first of each.
    var programs: [(name: String, times: Times)] = []

    static func == (a: Self, b: Self) -> Bool {
        a.programs.count == b.programs.count && zip(a.programs, b.programs).allSatisfy { $0.name == $1.name && $0.times == $1.times }
    }

    func times(of name: String) -> Times? { programs.first { $0.name == name }?.times }

    /// The transitions logged after `supervisord started with pid PID` (the last such line: the
    /// log file keeps earlier instances), or nil when the log does not have that line. The log's
    /// times are supervisord's local time; the offset to UTC is the difference to `startedAt`
    /// (the process's start, from /proc) rounded to 15 minutes, which every time zone offset is a
    /// multiple of (supervisord logs that line within seconds of its start).
    static func parse(_ log: String, supervisordPID pid: Int, startedAt: Double) -> SupervisordLogTimes? {
        guard let started = log.ranges(of: " supervisord started with pid \(pid)\n").last else { return nil }
        let lineStart = log[..<started.lowerBound].lastIndex(of: "\n").map { log.index(after: $0) } ?? log.startIndex
        guard let t0 = localTime(log[lineStart..<started.lowerBound].prefix(23)) else { return nil }
        let offset = ((startedAt - t0) / 900).rounded() * 900
        var out = SupervisordLogTimes()
        func update(_ name: String, _ body: (inout Times) -> Void) {
            if let i = out.programs.firstIndex(where: { $0.name == name }) { body(&out.programs[i].times) } else {
                var t = Times()
                body(&t)
                out.programs.append((name, t))
            }
        }
        for line in log[started.upperBound...].split(separator: "\n") {
            // "2026-12-01 12:40:52,575 INFO spawned: 'alpha' with pid 28046"
            guard line.count > 24, let t = localTime(line.prefix(23)) else { continue }
            let rest = line.dropFirst(24)
            guard let space = rest.firstIndex(of: " ") else { continue }
            let message = rest[rest.index(after: space)...]
            let at = t + offset
            if message.hasPrefix("spawned: '"), let quote = message.dropFirst(10).firstIndex(of: "'") {
                let name = String(message.dropFirst(10)[..<quote])
                update(name) { if $0.starting == nil { $0.starting = at } }
            } else if message.hasPrefix("success: "), let r = message.firstRange(of: " entered RUNNING state") {
                let name = String(message.dropFirst(9)[..<r.lowerBound])
                update(name) { if $0.running == nil { $0.running = at } }
            } else if message.hasPrefix("exited: "), message.hasSuffix("; expected)"), let paren = message.firstRange(of: " (") {
                let name = String(message.dropFirst(8)[..<paren.lowerBound])
                update(name) { if $0.exited == nil { $0.exited = at } }
            }
        }
        return out
    }

    /// "2026-12-01 12:40:52,575" as epoch seconds, read as if it were UTC.
    static func localTime(_ text: Substring) -> Double? {
        let b = Array(text.utf8)
        guard b.count == 23, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x20, b[13] == 0x3A, b[16] == 0x3A, b[19] == 0x2C else { return nil }
        func num(_ from: Int, _ to: Int) -> Int64? {
            var v: Int64 = 0
            for i in from..<to {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13), let mi = num(14, 16),
              let s = num(17, 19), let ms = num(20, 23), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        let days = RFC3339.days(year: y, month: mo, day: d)
        return Double(days * 86400 + h * 3600 + mi * 60 + s) + Double(ms) / 1000
    }
}
