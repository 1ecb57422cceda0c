// Why supervisord could not be asked. The probe maps every error to code 3 ("supervisord cannot
// be asked"); the codes keep the details apart so that the one-line message says what to fix.

/// Why supervisord could not be asked: a `code` (compare it with `==` or `switch` against the
/// static members of `SupervisorError.Code`) and the details the one-line `description` shows.
///
/// A struct rather than an enum, as swift-subprocess's `SubprocessError` and
/// swift-service-lifecycle's errors are: a new code is not a source-breaking change for
/// callers (their `switch` over `code` already has a `default`).
public struct SupervisorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; `switch` over it with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Value: String, Sendable {
            case noSocket, connectionRefused, permissionDenied, connectFailed, authenticationRequired,
                 authenticationFailed, shuttingDown, fault, httpStatus, malformedReply, timedOut,
                 supervisorctlFailed, invalidServerURL, configUnreadable
        }
        let value: Value
        init(_ value: Value) { self.value = value }

        /// The unix socket does not exist: supervisord is not running (or not yet), or the path is wrong.
        public static let noSocket = Code(.noSocket)
        /// Nothing accepts connections: a stale unix socket left by a dead supervisord, or a closed TCP port.
        public static let connectionRefused = Code(.connectionRefused)
        /// The socket (or a folder on its path) may not be opened by this user.
        public static let permissionDenied = Code(.permissionDenied)
        /// Any other failure to connect (unknown host, unreachable network...).
        public static let connectFailed = Code(.connectFailed)
        /// HTTP 401 and no username was configured (or supervisorctl reported it).
        public static let authenticationRequired = Code(.authenticationRequired)
        /// HTTP 401 although a username and password were sent.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// Fault 6 SHUTDOWN_STATE: supervisord is stopping (every `supervisor.*` call faults then).
        public static let shuttingDown = Code(.shuttingDown)
        /// Any other XML-RPC fault (`number` is the fault code).
        public static let fault = Code(.fault)
        /// An HTTP status other than 200 (`number`); 401 has its own codes.
        public static let httpStatus = Code(.httpStatus)
        /// The reply could not be understood; `detail` says what was wrong.
        public static let malformedReply = Code(.malformedReply)
        /// The deadline passed; `detail` says where (connect, send, receive...).
        public static let timedOut = Code(.timedOut)
        /// `supervisorctl` failed; `detail` is its output (first line).
        public static let supervisorctlFailed = Code(.supervisorctlFailed)
        /// The server URL (`subject`) is not one supervisorctl would accept.
        public static let invalidServerURL = Code(.invalidServerURL)
        /// A supervisord.conf (`subject`) that exists (or was named) could not be read or parsed.
        public static let configUnreadable = Code(.configUnreadable)

        /// The code's name, e.g. `noSocket`.
        public var description: String { value.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What the error is about: the socket path, the endpoint, the server URL or the config
    /// path ("" when none).
    public let subject: String
    /// The rest of the story: a reason, a fault string, supervisorctl's output, the phase that
    /// timed out, the user name whose credentials were refused ("" when none).
    public let detail: String
    /// The XML-RPC fault code or the HTTP status (0 when none).
    public let number: Int

    init(_ code: Code, subject: String = "", detail: String = "", number: Int = 0) {
        self.code = code
        self.subject = subject
        self.detail = detail
        self.number = number
    }

    /// The unix socket `path` does not exist.
    public static func noSocket(path: String) -> SupervisorError { SupervisorError(.noSocket, subject: path) }
    /// Nothing accepts connections at `endpoint`.
    public static func connectionRefused(endpoint: String) -> SupervisorError { SupervisorError(.connectionRefused, subject: endpoint) }
    /// `endpoint` may not be opened by this user.
    public static func permissionDenied(endpoint: String) -> SupervisorError { SupervisorError(.permissionDenied, subject: endpoint) }
    /// Any other failure to connect to `endpoint`.
    public static func connectFailed(endpoint: String, reason: String) -> SupervisorError {
        SupervisorError(.connectFailed, subject: endpoint, detail: reason)
    }
    /// HTTP 401 without a configured username (`endpoint` "" when supervisorctl reported it).
    public static func authenticationRequired(endpoint: String) -> SupervisorError {
        SupervisorError(.authenticationRequired, subject: endpoint)
    }
    /// HTTP 401 although `username` and a password were sent.
    public static func authenticationFailed(endpoint: String, username: String) -> SupervisorError {
        SupervisorError(.authenticationFailed, subject: endpoint, detail: username)
    }
    /// supervisord is stopping (fault 6 SHUTDOWN_STATE).
    public static let shuttingDown = SupervisorError(.shuttingDown)
    /// An XML-RPC fault other than SHUTDOWN_STATE.
    public static func fault(code: Int, string: String) -> SupervisorError { SupervisorError(.fault, detail: string, number: code) }
    /// An HTTP status other than 200 and 401.
    public static func httpStatus(code: Int, reason: String) -> SupervisorError {
        SupervisorError(.httpStatus, detail: reason, number: code)
    }
    /// A reply that could not be understood, and why.
    public static func malformedReply(_ what: String) -> SupervisorError { SupervisorError(.malformedReply, detail: what) }
    /// The deadline passed during `phase`.
    public static func timedOut(phase: String) -> SupervisorError { SupervisorError(.timedOut, detail: phase) }
    /// `supervisorctl` failed with `output`.
    public static func supervisorctlFailed(output: String) -> SupervisorError { SupervisorError(.supervisorctlFailed, detail: output) }
    /// `url` is not a server URL supervisorctl would accept.
    public static func invalidServerURL(url: String, reason: String) -> SupervisorError {
        SupervisorError(.invalidServerURL, subject: url, detail: reason)
    }
    /// The supervisord.conf at `path` could not be read or parsed.
    public static func configUnreadable(path: String, reason: String) -> SupervisorError {
        SupervisorError(.configUnreadable, subject: path, detail: reason)
    }

    /// The fault code supervisord uses for SHUTDOWN_STATE.
    public static let shutdownStateFaultCode = 6

    /// One line that says what went wrong and, where it can, what to do.
    public var description: String {
        switch code.value {
        case .noSocket:
            "supervisord socket \(subject) does not exist (supervisord is not running?)"
        case .connectionRefused:
            if subject.hasPrefix("/") || subject.hasPrefix("unix://") {
                "supervisord refused the connection on \(subject) (stale socket: supervisord is gone)"
            } else {
                "supervisord refused the connection on \(subject) (nothing listening)"
            }
        case .permissionDenied:
            "permission denied opening supervisord socket \(subject)"
        case .connectFailed:
            "cannot connect to supervisord at \(subject): \(detail)"
        case .authenticationRequired:
            subject.isEmpty ? "supervisord requires authentication (HTTP 401: credentials missing or wrong)"
                : "supervisord at \(subject) requires authentication (no username configured)"
        case .authenticationFailed:
            "supervisord at \(subject) rejected the credentials of user \"\(detail)\" (HTTP 401)"
        case .shuttingDown:
            "supervisord is shutting down (SHUTDOWN_STATE)"
        case .fault:
            "supervisord returned fault \(number): \(SupervisorError.oneLine(detail))"
        case .httpStatus:
            "supervisord answered HTTP \(number)\(detail.isEmpty ? "" : " " + SupervisorError.oneLine(detail))"
        case .malformedReply:
            "malformed reply from supervisord: \(SupervisorError.oneLine(detail))"
        case .timedOut:
            "supervisord did not answer in time (\(detail))"
        case .supervisorctlFailed:
            "supervisorctl failed: \(SupervisorError.oneLine(detail))"
        case .invalidServerURL:
            "invalid supervisord server URL \"\(SupervisorError.oneLine(subject))\": \(detail)"
        case .configUnreadable:
            "cannot read supervisord config \(subject): \(SupervisorError.oneLine(detail))"
        }
    }

    /// The first line of `text`, cut to 200 characters, so that every description is one line.
    static func oneLine(_ text: String) -> String {
        let first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: true).first.map(String.init) ?? ""
        let trimmed = first.hasSuffix("\r") ? String(first.dropLast()) : first
        return trimmed.count > 200 ? String(trimmed.prefix(200)) + "..." : trimmed
    }

    /// A fault as supervisord reports it: SHUTDOWN_STATE gets its own code.
    public static func fromFault(code: Int, string: String) -> SupervisorError {
        code == shutdownStateFaultCode ? .shuttingDown : .fault(code: code, string: string)
    }
}
