// Which supervisord processes are critical: the selectors of `[programs] critical` and of a SONiC
// critical_processes file, and the ONE rule that matches a process against them, used by the
// programs check (on a snapshot) and by the event listener (on each event).
import ProbeSupport
import SupervisorKit

/// One item of `critical = a, group:g, *`.
enum ProgramSelector: Sendable, Equatable, CustomStringConvertible {
    /// A program by name (`worker_00`) or by `group:name`.
    case program(String)
    /// Every process of a group (`group:web`).
    case group(String)
    /// Every process except the start program and event-listener pools (`*`).
    case all

    var description: String {
        switch self {
        case .program(let n): n
        case .group(let g): "group:\(g)"
        case .all: "*"
        }
    }

    /// Whether the process `name` of `group` is selected. `startProgram` (the one-shot start
    /// program, by name or namespec) and listener pools (`isListenerGroup`) are never matched by `*`.
    func matches(name: String, group: String, namespec: String, startProgram: String?,
                        isListenerGroup: (String) -> Bool) -> Bool {
        switch self {
        case .program(let n): return n == namespec || n == name
        case .group(let g): return g == group
        case .all: return name != startProgram && namespec != startProgram && !isListenerGroup(group)
        }
    }
}

/// What a check says about supervisord's programs, for the commands that watch them rather than
/// run the check: the event listener (critical programs: an unexpected exit is recorded at once;
/// the start program: its changes are written at once), `await` (the start program's exit codes,
/// the notify programs and their watchdog) and `serve`'s notify summary. Checks that read no
/// supervisord state watch nothing (the default). Read through the `Check` protocol
/// (`watchedPrograms`), so no command asks what type a check is.
public struct WatchedPrograms: Sendable, Equatable {
    var critical: [ProgramSelector]
    /// Where each of `critical` was written (`FILE:LINE: program:NAME`), for messages; may be shorter.
    var criticalOrigins: [String] = []
    var startProgram: String?
    /// The start check's rule (program, exit codes), when this is the start check.
    var start: StartCheck?
    /// Programs that must have sent READY=1 since their start (`[programs] notify`).
    var notify: [ProgramSelector]
    /// The notify programs' default watchdog period (nil: none).
    var watchdog: Duration?
    /// `[program:NAME]` sections: a notify program's own watchdog period and `on_watchdog`.
    var programWatchdogs: [ProgramWatchdog] = []

    init(critical: [ProgramSelector] = [], startProgram: String? = nil, start: StartCheck? = nil,
         notify: [ProgramSelector] = [], watchdog: Duration? = .seconds(30)) {
        self.critical = critical
        self.startProgram = startProgram
        self.start = start
        self.notify = notify
        self.watchdog = watchdog
    }

    /// Nothing: the default of `Check.watchedPrograms`.
    public static let none = WatchedPrograms()

    /// Every entry's, together: critical programs and notify programs added up; the first start
    /// program and start check named win; the watchdog of the first entry with notify programs.
    static func of(_ entries: [CheckEntry]) -> WatchedPrograms {
        var all = WatchedPrograms()
        var watchdogSet = false
        for e in entries {
            let w = e.check.watchedPrograms
            for (i, sel) in w.critical.enumerated() {
                all.criticalOrigins.append(i < w.criticalOrigins.count ? w.criticalOrigins[i] : sel.description)
            }
            all.critical += w.critical
            if all.startProgram == nil { all.startProgram = w.startProgram }
            if all.start == nil { all.start = w.start }
            all.notify += w.notify
            all.programWatchdogs += w.programWatchdogs
            if !watchdogSet && !w.notify.isEmpty {
                all.watchdog = w.watchdog
                watchdogSet = true
            }
        }
        return all
    }

    /// Whether the process `name` of `group` is critical.
    func isCritical(name: String, group: String, isListenerGroup: (String) -> Bool) -> Bool {
        let namespec = SupervisorProcess.namespec(group: group, name: name)
        return critical.contains { $0.matches(name: name, group: group, namespec: namespec, startProgram: startProgram,
                                              isListenerGroup: isListenerGroup) }
    }
}
