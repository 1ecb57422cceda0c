// The check registry: maps a config section kind (`hook`, `start`, `programs`, `state`)
// to a factory. Built-in kinds register exactly as a library user registers their own.
import ProbeSupport

/// Whether a kind's sections take a `:NAME` (`[hook:NAME]`) or not (`[start]`).
public enum InstanceRule: Sendable {
    /// `[start]`: no `:NAME` part.
    case forbidden
    /// `[hook:NAME]`: a name is required.
    case required
}

/// What a factory gets: the sections of its kind in file order, and the settings.
public struct CheckKindInput: Sendable {
    /// The sections of this kind, in file order (possibly none).
    public var sections: [INISection]
    /// The framework settings, already applied.
    public var settings: ProbeSettings
    /// The whole configuration, for kinds that read another section (programs reads [start]).
    public var document: INIDocument
    init(sections: [INISection], settings: ProbeSettings, document: INIDocument = INIDocument()) {
        self.sections = sections
        self.settings = settings
        self.document = document
    }
}

/// A kind of check that config sections can create.
public struct CheckKind: Sendable {
    /// The section kind, e.g. `hook` for `[hook:NAME]`.
    public var section: String
    /// The `kind` shown in results, e.g. `supervisor-start`.
    public var resultKind: String
    /// Table position: lower runs first in the table (start 10, programs 20, state 30, hook 40).
    public var order: Int
    /// Whether its sections take a `:NAME`.
    public var instance: InstanceRule
    /// Keys its sections accept, besides the common `severity`, `timeout`, `liveness`,
    /// `failure_threshold` and `success_threshold`.
    public var keys: [String]
    /// Codes its checks can produce, for `readiness-probe checks`.
    public var codes: [Int32]
    /// One line for `readiness-probe checks`: what the kind checks.
    public var about: String
    /// Builds the checks. Called even when no section of this kind exists, so a kind can
    /// supply defaults (the start check) or discover checks (hooks.d).
    public var make: @Sendable (CheckKindInput) throws(ConfigError) -> [CheckEntry]

    /// A kind; see the properties. `make` is called once per configuration load.
    public init(section: String, resultKind: String, order: Int, instance: InstanceRule, keys: [String],
                codes: [Int32], about: String,
                make: @escaping @Sendable (CheckKindInput) throws(ConfigError) -> [CheckEntry]) {
        self.section = section
        self.resultKind = resultKind
        self.order = order
        self.instance = instance
        self.keys = keys
        self.codes = codes
        self.about = about
        self.make = make
    }

    static let commonKeys = ["severity", "timeout", "liveness", "failure_threshold", "success_threshold"]
}

/// The kinds a configuration can use, by section name. `standard` holds the built-in kinds;
/// `register(_:)` adds one (a kind is one file plus one `register` line).
public struct CheckRegistry: Sendable {
    /// The registered kinds, in registration order.
    public private(set) var kinds: [CheckKind] = []

    /// An empty registry (no kinds: not even the built-ins).
    public init() {}

    /// Adds `kind`, replacing a kind of the same section.
    public mutating func register(_ kind: CheckKind) {
        kinds.removeAll { $0.section == kind.section }
        kinds.append(kind)
    }

    /// The kind that reads `[section]` or `[section:NAME]`, if registered.
    public func kind(forSection section: String) -> CheckKind? { kinds.first { $0.section == section } }

    /// The built-in kinds. Adding a kind is one file plus one line here.
    public static var standard: CheckRegistry {
        var r = CheckRegistry()
        r.register(StartCheck.kind)
        r.register(ProgramsCheck.kind)
        r.register(StateCheck.kind)
        r.register(HookCheck.kind)
        return r
    }

    /// Builds every check, in table order (kind order, then each kind's own order).
    func makeEntries(document: INIDocument, settings: ProbeSettings) throws(ConfigError) -> [CheckEntry] {
        var all: [CheckEntry] = []
        for kind in kinds.sorted(by: { $0.order < $1.order }) {
            let sections = document.sections(kind: kind.section)
            for s in sections {
                switch kind.instance {
                case .forbidden where s.instance != nil:
                    throw ConfigError("[\(kind.section)] takes no name; write [\(kind.section)]", at: s.location)
                case .required where (s.instance ?? "").trimmingASCIIWhitespace().isEmpty:
                    throw ConfigError("[\(kind.section)] needs a name, like [\(kind.section):NAME]", at: s.location)
                default: break
                }
                let allowed = kind.keys + CheckKind.commonKeys
                for e in s.entries where !allowed.contains(e.key) {
                    throw ConfigError(
                        "unknown key \"\(e.key)\" in [\(s.name)] (known: \((kind.keys + CheckKind.commonKeys).joined(separator: ", ")))",
                        at: e.location)
                }
            }
            var made = try kind.make(CheckKindInput(sections: sections, settings: settings, document: document))
            // failure_threshold / success_threshold apply to the entries a section made (its location is their origin).
            for s in sections where s.entry("failure_threshold") != nil || s.entry("success_threshold") != nil {
                let t = try CheckThresholds(s)
                let origin = s.location.description
                for i in made.indices where made[i].origin == origin { made[i].thresholds = t }
            }
            all += made
        }
        for (i, e) in all.enumerated() {
            if let prev = all[..<i].first(where: { $0.name == e.name }) {
                throw ConfigError("two checks are named \"\(e.name)\" (\(prev.origin) and \(e.origin)); rename one", at: nil)
            }
        }
        return all
    }
}
