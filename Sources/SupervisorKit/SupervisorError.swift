// Why supervisord could not be asked. The probe maps every case to code 3 ("supervisord cannot
// be asked"); the cases keep the details apart so that the one-line message says what to fix.

public enum SupervisorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The unix socket does not exist: supervisord is not running (or not yet), or the path is wrong.
    case noSocket(path: String)
    /// Nothing accepts connections: a stale unix socket left by a dead supervisord, or a closed TCP port.
    case connectionRefused(endpoint: String)
    /// The socket (or a folder on its path) may not be opened by this user.
    case permissionDenied(endpoint: String)
    /// Any other failure to connect (unknown host, unreachable network...).
    case connectFailed(endpoint: String, reason: String)
    /// HTTP 401 and no username was configured (endpoint "" when supervisorctl reported it: it does
    /// not say whether credentials were missing or wrong).
    case authenticationRequired(endpoint: String)
    /// HTTP 401 although a username and password were sent.
    case authenticationFailed(endpoint: String, username: String)
    /// Fault 6 SHUTDOWN_STATE: supervisord is stopping (every `supervisor.*` call faults then).
    case shuttingDown
    /// Any other XML-RPC fault.
    case fault(code: Int, string: String)
    /// An HTTP status other than 200 (401 has its own cases).
    case httpStatus(code: Int, reason: String)
    /// The reply could not be understood; says what was wrong.
    case malformedReply(String)
    /// The deadline passed; `phase` says where (connect, send, receive...).
    case timedOut(phase: String)
    /// `supervisorctl` failed; its output (first line) is kept.
    case supervisorctlFailed(output: String)
    /// The server URL is not one supervisorctl would accept.
    case invalidServerURL(url: String, reason: String)
    /// A supervisord.conf that exists (or was named) could not be read or parsed.
    case configUnreadable(path: String, reason: String)

    /// The fault code supervisord uses for SHUTDOWN_STATE.
    public static let shutdownStateFaultCode = 6

    public var description: String {
        switch self {
        case .noSocket(let path):
            "supervisord socket \(path) does not exist (supervisord is not running?)"
        case .connectionRefused(let endpoint):
            if endpoint.hasPrefix("/") || endpoint.hasPrefix("unix://") {
                "supervisord refused the connection on \(endpoint) (stale socket: supervisord is gone)"
            } else {
                "supervisord refused the connection on \(endpoint) (nothing listening)"
            }
        case .permissionDenied(let endpoint):
            "permission denied opening supervisord socket \(endpoint)"
        case .connectFailed(let endpoint, let reason):
            "cannot connect to supervisord at \(endpoint): \(reason)"
        case .authenticationRequired(let endpoint):
            endpoint.isEmpty ? "supervisord requires authentication (HTTP 401: credentials missing or wrong)"
                : "supervisord at \(endpoint) requires authentication (no username configured)"
        case .authenticationFailed(let endpoint, let username):
            "supervisord at \(endpoint) rejected the credentials of user \"\(username)\" (HTTP 401)"
        case .shuttingDown:
            "supervisord is shutting down (SHUTDOWN_STATE)"
        case .fault(let code, let string):
            "supervisord returned fault \(code): \(SupervisorError.oneLine(string))"
        case .httpStatus(let code, let reason):
            "supervisord answered HTTP \(code)\(reason.isEmpty ? "" : " " + SupervisorError.oneLine(reason))"
        case .malformedReply(let what):
            "malformed reply from supervisord: \(SupervisorError.oneLine(what))"
        case .timedOut(let phase):
            "supervisord did not answer in time (\(phase))"
        case .supervisorctlFailed(let output):
            "supervisorctl failed: \(SupervisorError.oneLine(output))"
        case .invalidServerURL(let url, let reason):
            "invalid supervisord server URL \"\(SupervisorError.oneLine(url))\": \(reason)"
        case .configUnreadable(let path, let reason):
            "cannot read supervisord config \(path): \(SupervisorError.oneLine(reason))"
        }
    }

    /// The first line of `text`, cut to 200 characters, so that every description is one line.
    static func oneLine(_ text: String) -> String {
        let first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
        let trimmed = first.hasSuffix("\r") ? String(first.dropLast()) : first
        return trimmed.count > 200 ? String(trimmed.prefix(200)) + "..." : trimmed
    }

    /// A fault as supervisord reports it: SHUTDOWN_STATE gets its own case.
    public static func fromFault(code: Int, string: String) -> SupervisorError {
        code == shutdownStateFaultCode ? .shuttingDown : .fault(code: code, string: string)
    }
}
