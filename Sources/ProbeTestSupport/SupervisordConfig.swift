/// supervisord sections for a test, built instead of pasted:
///
///     let h = try SupervisordHarness(SupervisordConfig()
///         .start()                                                   // [program:start], exits 0 at once
///         .program("syncd", command: "sleep 100000")
///         .program("badshot", command: "sh -c 'exit 1'", autorestart: false)
///         .group("swss", programs: ["orchagent"]))
///
/// A program's `startsecs` is 0 unless given (a test wants RUNNING at once, not after supervisord's
/// default 1 s); any other key is left out, so supervisord's default applies, unless given. `nil`
/// leaves `startsecs` out too. `{dir}` in a value is the harness's folder (SupervisordHarness), and
/// keys without a parameter go in `more`, in order.
public struct SupervisordConfig: Sendable, CustomStringConvertible {
    private var sections: [String] = []

    /// No sections yet.
    public init() {}

    /// The INI text (sections separated by blank lines), as `SupervisordHarness(programs:)` takes it.
    public var text: String { sections.joined(separator: "\n") }
    /// The INI text.
    public var description: String { text }

    /// Any section: `[header]` and its `key=value` lines, in order.
    public func section(_ header: String, _ keys: [(String, String?)]) -> Self {
        var copy = self
        var lines = ["[\(header)]"]
        for (key, value) in keys { if let value { lines.append("\(key)=\(value)") } }
        copy.sections.append(lines.joined(separator: "\n") + "\n")
        return copy
    }

    /// `[program:NAME]`.
    /// - Parameters:
    ///   - autorestart: `false` for a one-shot; nil: supervisord's default (`unexpected`).
    ///   - environment: `KEY="value"` pairs as supervisord writes them (`environment=A="1",B="2"`).
    ///   - priority: start order (lower first); nil: supervisord's default (999).
    ///   - stdoutLog, stderrLog: `stdout_logfile`/`stderr_logfile`; nil: supervisord's own (in the harness's `logs/`).
    ///   - redirectStderr: `redirect_stderr=true` (stderr into `stdoutLog`).
    ///   - more: other keys (`numprocs`, `process_name`, `user`, ...), in order.
    public func program(_ name: String, command: String, startsecs: Int? = 0, autostart: Bool? = nil,
                        autorestart: Bool? = nil, startretries: Int? = nil, stopwaitsecs: Int? = nil,
                        environment: String? = nil, priority: Int? = nil, stdoutLog: String? = nil,
                        stderrLog: String? = nil, redirectStderr: Bool = false, _ more: [(String, String)] = []) -> Self {
        section("program:\(name)", [
            ("command", command), ("startsecs", startsecs.map(String.init)), ("autostart", autostart.map(String.init)),
            ("autorestart", autorestart.map(String.init)), ("startretries", startretries.map(String.init)),
            ("stopwaitsecs", stopwaitsecs.map(String.init)), ("environment", environment),
            ("priority", priority.map(String.init)), ("redirect_stderr", redirectStderr ? "true" : nil),
            ("stdout_logfile", stdoutLog), ("stderr_logfile", stderrLog),
        ] + more.map { ($0.0, Optional($0.1)) })
    }


    /// `[eventlistener:NAME]` subscribed to `events` (e.g. `PROCESS_STATE,TICK_5`).
    public func eventListener(_ name: String, command: String, events: String, startsecs: Int? = 0,
                              bufferSize: Int? = nil, priority: Int? = nil, _ more: [(String, String)] = []) -> Self {
        section("eventlistener:\(name)", [
            ("command", command), ("events", events), ("startsecs", startsecs.map(String.init)),
            ("buffer_size", bufferSize.map(String.init)), ("priority", priority.map(String.init)),
        ] + more.map { ($0.0, Optional($0.1)) })
    }

    /// `[group:NAME]` of `programs`.
    public func group(_ name: String, programs: [String]) -> Self {
        section("group:\(name)", [("programs", programs.joined(separator: ","))])
    }

    /// Raw INI text appended as is (for what the builder does not say).
    public func raw(_ text: String) -> Self {
        var copy = self
        copy.sections.append(text.hasSuffix("\n") ? text : text + "\n")
        return copy
    }

    /// A one-shot `[program:NAME]` (default `start`) that exits `exit` at once: the SONiC shape of a finished start.sh.
    public func start(_ name: String = "start", exit code: Int = 0) -> Self {
        program(name, command: "sh -c 'exit \(code)'", autorestart: false)
    }

    /// A `[program:stubborn]` that ignores SIGTERM (stopwaitsecs=5): once supervisord gets SIGTERM, it
    /// stays in SHUTDOWN_STATE for about 5 s. Wait with `SupervisordHarness.waitUntilStubbornIgnoresTERM()` first.
    public func stubborn() -> Self {
        program("stubborn", command: "sh -c 'trap \"\" TERM; touch {dir}/trapped; while :; do sleep 0.2; done'",
                stopwaitsecs: 5)
    }
}

extension SupervisordHarness {
    /// Starts supervisord with the sections of `config` (see `init(programs:...)` for the rest).
    public convenience init(_ config: SupervisordConfig, username: String? = nil, password: String? = nil,
                            supervisorctlCredentials: Bool = true, loglevel: String = "info",
                            startTimeout: Duration = .seconds(20), wrapper: [String] = []) throws {
        try self.init(programs: config.text, username: username, password: password,
                      supervisorctlCredentials: supervisorctlCredentials, loglevel: loglevel,
                      startTimeout: startTimeout, wrapper: wrapper)
    }
}
