// Reading a check section's values: the keys every check accepts, and typed reads with file:line errors.
import ProbeSupport

/// The keys every check section accepts.
public struct CommonCheckOptions: Sendable {
    /// `severity = fail | warn` (default fail): whether a failure fails the probe.
    public var severity: Severity = .fail
    /// `timeout = DURATION`: the check's own limit (nil: only the overall deadline).
    public var timeout: Duration? = nil
    /// `liveness = true`: `serve`'s /livez includes the check.
    public var liveness = false

    /// Reads the common keys of `section` (nil: the defaults). Bad values are errors with file:line.
    public init(_ section: INISection?) throws(ConfigError) {
        guard let section else { return }
        if let e = section.entry("severity") {
            guard let s = Severity(rawValue: e.value.lowercased()) else {
                throw ConfigError("severity must be fail or warn, not \"\(e.value)\"", at: e.location)
            }
            severity = s
        }
        if let e = section.entry("timeout") { timeout = try ConfigValue.duration(e) }
        if let e = section.entry("liveness") { liveness = try ConfigValue.bool(e) }
    }
}

/// Typed reads of INI values, with file:line errors.
public enum ConfigValue {
    /// A positive duration (`300ms`, `5s`, `2m`), or an error with file:line.
    public static func duration(_ e: INIEntry) throws(ConfigError) -> Duration {
        let d: Duration
        do { d = try DurationText.parse(e.value) } catch { throw ConfigError("\(e.key): \(error)", at: e.location) }
        if d <= .zero { throw ConfigError("\(e.key) must be greater than 0", at: e.location) }
        return d
    }

    /// `true`/`yes`/`on`/`1` or `false`/`no`/`off`/`0`, or an error with file:line.
    public static func bool(_ e: INIEntry) throws(ConfigError) -> Bool {
        switch e.value.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw ConfigError("\(e.key) must be true or false, not \"\(e.value)\"", at: e.location)
        }
    }

    /// The items of a list separated by commas, spaces or new lines (empty items dropped).
    public static func list(_ e: INIEntry) -> [String] {
        e.value.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// A whole number within `range`, or an error with file:line.
    public static func int(_ e: INIEntry, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let n = Int(e.value.trimmingASCIIWhitespace()), range.contains(n) else {
            throw ConfigError("\(e.key) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(e.value)\"", at: e.location)
        }
        return n
    }
}
