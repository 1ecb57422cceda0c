// Signal names: the one table, used by hook results, `state load`'s check command, and the
// messages of `serve` and `wait` when a signal stops them.
@preconcurrency import Glibc

/// Names of the standard Linux signals.
public enum Signals {
    /// `SIGKILL` for 9; `signal N` for a number without a standard name (real-time signals).
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGUSR1: return "SIGUSR1"
        case SIGSEGV: return "SIGSEGV"
        case SIGUSR2: return "SIGUSR2"
        case SIGPIPE: return "SIGPIPE"
        case SIGALRM: return "SIGALRM"
        case SIGTERM: return "SIGTERM"
        case SIGSTKFLT: return "SIGSTKFLT"
        case SIGCHLD: return "SIGCHLD"
        case SIGCONT: return "SIGCONT"
        case SIGSTOP: return "SIGSTOP"
        case SIGTSTP: return "SIGTSTP"
        case SIGTTIN: return "SIGTTIN"
        case SIGTTOU: return "SIGTTOU"
        case SIGURG: return "SIGURG"
        case SIGXCPU: return "SIGXCPU"
        case SIGXFSZ: return "SIGXFSZ"
        case SIGVTALRM: return "SIGVTALRM"
        case SIGPROF: return "SIGPROF"
        case SIGWINCH: return "SIGWINCH"
        case SIGIO: return "SIGIO"
        case SIGPWR: return "SIGPWR"
        case SIGSYS: return "SIGSYS"
        default: return "signal \(signal)"
        }
    }
}

extension Signals {
    /// The number of a signal by its name as `name(_:)` and Python's `signal` module spell it
    /// (`SIGKILL`, `SIGPOLL`, `SIGRTMIN`), or nil.
    public static func number(named text: String) -> Int32? {
        switch text {
        case "SIGPOLL": return SIGIO
        case "SIGIOT": return SIGABRT
        case "SIGCLD": return SIGCHLD
        case "SIGRTMIN": return 34
        case "SIGRTMAX": return 64
        default: break
        }
        guard text.hasPrefix("SIG") else { return nil }
        for n in Int32(1)...31 where name(n) == text { return n }
        return nil
    }
}
