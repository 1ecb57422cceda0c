// The supervisord data model shared by every source (XML-RPC, supervisorctl output, events).

/// supervisord's process states, with their numeric codes.
public enum ProcessState: Int, Sendable, CaseIterable {
    case stopped = 0
    case starting = 10
    case running = 20
    case backoff = 30
    case stopping = 40
    case exited = 100
    case fatal = 200
    case unknown = 1000

    public var name: String {
        switch self {
        case .stopped: "STOPPED"
        case .starting: "STARTING"
        case .running: "RUNNING"
        case .backoff: "BACKOFF"
        case .stopping: "STOPPING"
        case .exited: "EXITED"
        case .fatal: "FATAL"
        case .unknown: "UNKNOWN"
        }
    }

    public init?(name: String) {
        guard let s = ProcessState.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }
}

/// One supervisord process, as much as the source knows of it.
public struct SupervisorProcess: Sendable, Equatable {
    public var name: String
    public var group: String
    public var state: ProcessState
    public var description: String
    /// The spawn error (BACKOFF/FATAL reasons, `Bad exit code N`); empty if none or unknown.
    public var spawnError: String
    /// The exit status, when the source knows it (XML-RPC does; `supervisorctl status` does not).
    public var exitStatus: Int?
    /// Whether the last exit was in the program's exitcodes (event listener's `expected`), if known.
    public var exitExpected: Bool?
    public var pid: Int
    /// Epoch seconds of the (last) start, and of now on the server; 0 if unknown.
    public var startTime: Int
    public var now: Int
    /// The program's log file as supervisord resolved it (`stderr_logfile`, else `stdout_logfile`,
    /// AUTO logs included); empty when the source does not say (only XML-RPC does).
    public var logFile: String = ""

    public init(name: String, group: String, state: ProcessState, description: String = "", spawnError: String = "",
                exitStatus: Int? = nil, exitExpected: Bool? = nil, pid: Int = 0, startTime: Int = 0, now: Int = 0) {
        self.name = name
        self.group = group
        self.state = state
        self.description = description
        self.spawnError = spawnError
        self.exitStatus = exitStatus
        self.exitExpected = exitExpected
        self.pid = pid
        self.startTime = startTime
        self.now = now
    }

    /// `name` when the group has the same name, otherwise `group:name` (as supervisorctl prints it).
    public var namespec: String { Self.namespec(group: group, name: name) }

    /// supervisord's name for a process: `name` when its group has the same name, else `group:name`.
    public static func namespec(group: String, name: String) -> String { group == name ? name : "\(group):\(name)" }
}
