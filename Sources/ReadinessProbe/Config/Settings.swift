// Framework settings: the [probe], [supervisor] and [listener] sections, and loading the file.
import ProbeSupport

/// How the supervisor checks learn program states.
enum SupervisorSourceKind: String, Sendable, CaseIterable {
    /// The listener's ledger when fresh, else XML-RPC, else `supervisorctl status`.
    case auto
    case xmlrpc
    case supervisorctl
    /// The event listener's ledger only.
    case events
}

struct SupervisorSettings: Sendable {
    /// nil: discovered as supervisorctl does.
    var serverURL: String? = nil
    var username: String? = nil
    var password: String? = nil
    var source: SupervisorSourceKind = .auto
    var supervisorctl: String = "supervisorctl"
    /// supervisord.conf for discovery and for `supervisorctl -c`; nil: the standard search.
    var configFile: String? = nil
    /// A ledger older than this is not trusted.
    var ledgerMaxAge: Duration = .seconds(15)
    init() {}
}

struct ListenerSettings: Sendable {
    enum OnCriticalExit: String, Sendable { case record, terminate }
    var onCriticalExit: OnCriticalExit = .record
    var terminateGrace: Duration = .zero
    /// Run the full check set on every TICK and write the cached result.
    var runChecks = true
    var tick: String = "TICK_5"
    /// How long a critical program's unexpected exit stays reported after it is RUNNING again.
    var failureHold: Duration = .seconds(30)
    init() {}
}

/// The listener's sd_notify socket (docs/notify.md).
struct NotifySettings: Sendable {
    /// nil: <rundir>/readiness-probe/notify.sock. `@name` is an abstract address.
    var socket: String? = nil
    /// The path socket's mode: senders need write permission on it.
    var mode: UInt32 = 0o666
    init() {}
}

/// The framework's settings (`[probe]`, `[supervisor]`, `[listener]`), as loaded with the
/// configuration. A check reads them from its context; the fields shown here are public.
public struct ProbeSettings: Sendable {
    static let defaultConfigPath = "/etc/readiness-probe/readiness-probe.conf"
    static let defaultHooksDir = "/etc/readiness-probe/hooks.d"
    static let sonicHookPath = "/usr/bin/readiness_probe_hook"

    /// The overall deadline of one run.
    public var timeout: Duration = .seconds(5)
    /// The default timeout of hooks without their own.
    public var hookTimeout: Duration = .seconds(3)
    /// The folder of drop-in hooks (`[probe] hooks_dir`; empty: none).
    public var hooksDir: String = ProbeSettings.defaultHooksDir
    var sonicHook: String = ProbeSettings.sonicHookPath
    /// Where state lives: the listener's ledger and cached result, application state files.
    public var rundir: String = "/run"
    /// A configuration with no checks at all is code 8 unless this is set (`[probe] allow_no_checks = true`).
    var allowNoChecks = false
    var supervisor = SupervisorSettings()
    var listener = ListenerSettings()
    var notify = NotifySettings()
    /// The flight recorder (docs/history.md).
    var history = HistorySettings()
    /// The config file that was read, or nil when the built-in defaults apply.
    public var configFile: String? = nil
    /// The process environment (for discovery and state defaults); injectable for tests.
    public var environment: Environment = [:]

    /// The built-in defaults (what a run uses without a config file).
    public init() {}

    /// Sections that configure the framework rather than create checks, with their keys.
    /// Pairs, not a Dictionary: looked up linearly (docs/architecture.md, "The probe path").
    static let frameworkSections: KeyValuePairs<String, [String]> = [
        "probe": ["timeout", "hook_timeout", "hooks_dir", "sonic_hook", "rundir", "allow_no_checks"],
        "supervisor": ["serverurl", "username", "password", "source", "supervisorctl", "config", "ledger_max_age"],
        "listener": ["on_critical_exit", "terminate_grace", "run_checks", "tick", "failure_hold"],
        "notify": ["socket", "mode"],
        "history": ["enabled", "max_size"],
    ]

    /// Reads the framework sections of `doc`.
    mutating func apply(_ doc: INIDocument) throws(ConfigError) {
        if let s = doc.section("probe") {
            if let e = s.entry("timeout") { timeout = try ConfigValue.duration(e) }
            if let e = s.entry("hook_timeout") { hookTimeout = try ConfigValue.duration(e) }
            if let e = s.entry("hooks_dir") { hooksDir = e.value }
            if let e = s.entry("sonic_hook") { sonicHook = e.value }
            if let e = s.entry("allow_no_checks") { allowNoChecks = try ConfigValue.bool(e) }
            if let e = s.entry("rundir") {
                guard e.value.hasPrefix("/") else { throw ConfigError("rundir must be an absolute path", at: e.location) }
                rundir = e.value
            }
        }
        if let s = doc.section("supervisor") {
            if let e = s.entry("serverurl"), !e.value.isEmpty {
                guard e.value.hasPrefix("unix://") || e.value.hasPrefix("http://") else {
                    throw ConfigError("serverurl must start with unix:// or http://, not \"\(e.value)\"", at: e.location)
                }
                supervisor.serverURL = e.value
            }
            if let e = s.entry("username"), !e.value.isEmpty { supervisor.username = e.value }
            if let e = s.entry("password"), !e.value.isEmpty { supervisor.password = e.value }
            if let e = s.entry("source") {
                guard let k = SupervisorSourceKind(rawValue: e.value.lowercased()) else {
                    throw ConfigError("source must be one of auto, xmlrpc, supervisorctl, events; not \"\(e.value)\"", at: e.location)
                }
                supervisor.source = k
            }
            if let e = s.entry("supervisorctl"), !e.value.isEmpty { supervisor.supervisorctl = e.value }
            if let e = s.entry("config"), !e.value.isEmpty { supervisor.configFile = e.value }
            if let e = s.entry("ledger_max_age") { supervisor.ledgerMaxAge = try ConfigValue.duration(e) }
        }
        if let s = doc.section("notify") {
            if let e = s.entry("socket"), !e.value.isEmpty {
                guard NotifyAddress(e.value) != nil else {
                    throw ConfigError("socket must be an absolute path or @name of at most 107 bytes, not \"\(e.value)\"", at: e.location)
                }
                notify.socket = e.value
            }
            if let e = s.entry("mode") {
                guard let m = UInt32(e.value, radix: 8), m <= 0o777 else {
                    throw ConfigError("mode must be octal permissions such as 0666 or 0660, not \"\(e.value)\"", at: e.location)
                }
                notify.mode = m
            }
        }
        if let s = doc.section("history") {
            if let e = s.entry("enabled") { history.enabled = try ConfigValue.bool(e) }
            if let e = s.entry("max_size") {
                guard let n = HistorySettings.parseSize(e.value), n >= HistorySettings.minSize, n <= HistorySettings.maxSizeLimit else {
                    throw ConfigError("max_size must be a size from 16KiB to 64MiB, such as 1MiB or 262144, not \"\(e.value)\"", at: e.location)
                }
                history.maxSize = n
            }
        }
        if let s = doc.section("listener") {
            if let e = s.entry("on_critical_exit") {
                guard let v = ListenerSettings.OnCriticalExit(rawValue: e.value.lowercased()) else {
                    throw ConfigError("on_critical_exit must be record or terminate, not \"\(e.value)\"", at: e.location)
                }
                listener.onCriticalExit = v
            }
            if let e = s.entry("terminate_grace") {
                do { listener.terminateGrace = try DurationText.parse(e.value) } catch {
                    throw ConfigError("terminate_grace: \(error)", at: e.location)
                }
            }
            if let e = s.entry("failure_hold") {
                do { listener.failureHold = try DurationText.parse(e.value) } catch {
                    throw ConfigError("failure_hold: \(error)", at: e.location)
                }
            }
            if let e = s.entry("run_checks") { listener.runChecks = try ConfigValue.bool(e) }
            if let e = s.entry("tick") {
                guard ["TICK_5", "TICK_60", "TICK_3600"].contains(e.value.uppercased()) else {
                    throw ConfigError("tick must be TICK_5, TICK_60 or TICK_3600", at: e.location)
                }
                listener.tick = e.value.uppercased()
            }
        }
    }
}

/// A loaded configuration: settings plus the checks in table order.
public struct ProbeConfiguration: Sendable {
    /// The framework settings.
    public var settings: ProbeSettings
    /// The checks, in table order (kind order, then each kind's own order).
    public var entries: [CheckEntry]
    /// The parsed config (every file read, includes resolved), for kinds that read other sections.
    public var document: INIDocument

    /// Where the config comes from: `--config`, else READINESS_PROBE_CONFIG, else the default
    /// path. A missing default file is not an error; a missing explicit one is.
    static func resolvePath(explicit: String?, environment: Environment) -> (path: String, explicit: Bool) {
        if let explicit, !explicit.isEmpty { return (explicit, true) }
        if let env = environment["READINESS_PROBE_CONFIG"], !env.isEmpty { return (env, true) }
        return (ProbeSettings.defaultConfigPath, false)
    }

    /// Reads the config (`explicitPath`, else `READINESS_PROBE_CONFIG` in `environment`, else
    /// `/etc/readiness-probe/readiness-probe.conf`; a missing default file means the built-in
    /// defaults), applies the framework sections and builds every check with `registry`'s kinds.
    /// Throws a `ConfigError` with file:line for anything it does not accept.
    public static func load(explicitPath: String?, environment: Environment,
                            registry: CheckRegistry = .standard) throws(ConfigError) -> ProbeConfiguration {
        let (path, explicit) = resolvePath(explicit: explicitPath, environment: environment)
        var doc = INIDocument()
        if explicit || Platform.exists(path) {
            if !Platform.exists(path) { throw ConfigError("config file \(path) does not exist", at: nil) }
            doc = try INI.load(path: path)
        }
        return try build(document: doc, configFile: doc.files.first, environment: environment, registry: registry)
    }

    /// Why there are no checks, and how to accept that. Names skipped hooks_dir entries, if any.
    static func noChecksMessage(_ settings: ProbeSettings) -> String {
        var m = "no checks configured"
        m += settings.configFile.map { " in \($0)" } ?? " (no config file)"
        if !settings.hooksDir.isEmpty, let listing = try? HookFile.list(directory: settings.hooksDir, location: nil),
           !listing.skipped.isEmpty {
            m += "; skipped in hooks_dir: " + listing.skipped.map { "\($0.path) (\($0.reason))" }.joined(separator: ", ")
        }
        return m + "; a probe that checks nothing would always say ready: add a check, or set [probe] allow_no_checks = true"
    }

    /// Builds from an already-parsed document (tests and embedding programs use this).
    static func build(document doc: INIDocument, configFile: String?, environment: Environment,
                             registry: CheckRegistry = .standard) throws(ConfigError) -> ProbeConfiguration {
        for s in doc.sections {
            if let keys = ProbeSettings.frameworkSections.first(where: { $0.key == s.name })?.value {
                for e in s.entries where !keys.contains(e.key) {
                    throw ConfigError("unknown key \"\(e.key)\" in [\(s.name)] (known: \(keys.joined(separator: ", ")))", at: e.location)
                }
                continue
            }
            if s.kind == "program" && s.instance != nil { continue }  // [program:NAME]: ProgramWatchdog (ProgramsCheck.swift)
            if registry.kind(forSection: s.kind) == nil {
                let known = (ProbeSettings.frameworkSections.map(\.key).sorted() + ["include"] + registry.kinds.map(\.section))
                throw ConfigError("unknown section [\(s.name)] (known: \(known.joined(separator: ", ")))", at: s.location)
            }
        }
        var settings = ProbeSettings()
        settings.configFile = configFile
        settings.environment = environment
        try settings.apply(doc)
        let entries = try registry.makeEntries(document: doc, settings: settings)
        if let sec = doc.sections(kind: "program").first, !entries.contains(where: { !$0.check.watchedPrograms.programWatchdogs.isEmpty }) {
            throw ConfigError("[\(sec.name)] sets a notify program's watchdog, but there is no [programs] notify = \(sec.instance ?? "NAME")", at: sec.location)
        }
        if entries.isEmpty && !settings.allowNoChecks {
            throw ConfigError(noChecksMessage(settings), at: nil)
        }
        return ProbeConfiguration(settings: settings, entries: entries, document: doc)
    }
}
