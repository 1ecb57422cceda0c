// Environment variables, looked up by name: the process's environment is read with getenv(3)
// when a variable is asked for, not copied into a Dictionary at start-up (docs/architecture.md,
// "The probe path").

/// The process's environment (read on each lookup) or a fixed table (tests, embedding callers).
/// A dictionary literal makes a fixed table: `[:]` is an empty environment, not the process's.
public struct Environment: Sendable, ExpressibleByDictionaryLiteral {
    private let table: [String: String]?

    /// This process's environment, read when a variable is looked up.
    public static let process = Environment(table: nil)

    public init(_ table: [String: String]) { self.table = table }

    private init(table: [String: String]?) { self.table = table }

    public init(dictionaryLiteral elements: (String, String)...) {
        var t: [String: String] = [:]
        for (k, v) in elements { t[k] = v }
        table = t
    }

    public subscript(_ name: String) -> String? {
        if let table { return table[name] }
        return Platform.environment(name)
    }
}
