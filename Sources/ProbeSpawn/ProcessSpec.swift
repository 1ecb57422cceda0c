// Process spawning as values: what to run (ProcessSpec), how it ended (ProcessOutcome).
import ProbeSupport

/// What to run. argv[0] is a path (anything containing `/`) or a bare name looked up in this
/// process's PATH (not in `environment`), as posix_spawnp does. The child never runs through a
/// shell, not even for a file without a `#!` line (that fails with ENOEXEC).
public struct ProcessSpec: Sendable, Equatable {
    public var argv: [String]
    /// nil inherits this process's environment.
    public var environment: [String]?
    public var workingDirectory: String?
    /// The child's own time limit; the whole process group is SIGKILLed when it passes.
    public var timeout: Duration
    /// Bytes of stdout and of stderr kept (each); more is counted, not kept.
    public var outputLimit: Int
    /// When set, this already-open file is executed (argv[0] is then only the name the child
    /// sees and messages show): no PATH lookup, and nothing done to the path after it was
    /// opened changes what runs.
    public var executable: ExecutableFile?

    public init(argv: [String], environment: [String]? = nil, workingDirectory: String? = nil,
                timeout: Duration = .seconds(10), outputLimit: Int = 4096, executable: ExecutableFile? = nil) {
        self.argv = argv
        self.executable = executable
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.outputLimit = outputLimit
    }
}

/// How a child ended.
public enum Termination: Sendable, Equatable {
    /// exit(2) with this status.
    case exited(Int32)
    /// Killed by a signal it did not ask for (not our timeout kill).
    case signaled(Int32)
    /// Its own `timeout` passed; its process group was SIGKILLed and reaped.
    case timedOut
    /// The caller's overall deadline passed first; its process group was SIGKILLed and reaped.
    case deadlineExceeded
    /// posix_spawn (or the setup before it) failed: errno and a message naming the path.
    case spawnFailed(errno: Int32, message: String)
}

/// How a child ended (exited, killed by a signal, timed out, not started), with its bounded output.
public struct ProcessOutcome: Sendable, Equatable {
    public var termination: Termination
    /// The first `outputLimit` bytes of stdout.
    public var stdout: [UInt8]
    /// How many stdout bytes were read past the limit and dropped.
    public var stdoutDropped: Int
    public var stderr: [UInt8]
    public var stderrDropped: Int
    public var duration: Duration
    public var pid: Int32

    public init(termination: Termination, stdout: [UInt8] = [], stdoutDropped: Int = 0, stderr: [UInt8] = [],
                stderrDropped: Int = 0, duration: Duration = .zero, pid: Int32 = 0) {
        self.termination = termination
        self.stdout = stdout
        self.stdoutDropped = stdoutDropped
        self.stderr = stderr
        self.stderrDropped = stderrDropped
        self.duration = duration
        self.pid = pid
    }
}
