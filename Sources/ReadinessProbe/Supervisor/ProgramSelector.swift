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

/// What the event listener watches for a check: critical programs (an unexpected exit is recorded
/// at once) and the start program (its changes are written at once). Checks that read no
/// supervisord state watch nothing (the default).
public struct WatchedPrograms: Sendable, Equatable {
    var critical: [ProgramSelector]
    var startProgram: String?

    init(critical: [ProgramSelector] = [], startProgram: String? = nil) {
        self.critical = critical
        self.startProgram = startProgram
    }

    public static let none = WatchedPrograms()

    /// Every entry's, together (the first start program named wins).
    static func of(_ entries: [CheckEntry]) -> WatchedPrograms {
        var all = WatchedPrograms()
        for e in entries {
            let w = e.check.watchedPrograms
            all.critical += w.critical
            if all.startProgram == nil { all.startProgram = w.startProgram }
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
