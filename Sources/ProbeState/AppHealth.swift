// Reading the state files and the health rule. Nothing here throws or crashes on what a file holds: the old
// module truncates and then writes, so a reader can see an empty file; any content is a verdict, not a fault.
import Glibc
import ProbeSupport

/// What one state file held when it was read.
public enum StateFileContent: Sendable, Equatable {
    /// The file (or its folder) does not exist.
    case missing
    /// The file's bytes, decoded as UTF-8 (invalid bytes become U+FFFD). May be empty.
    case text(String)
    /// The file holds more than `StateFileContent.limit` bytes.
    case tooLarge
    /// The file exists but could not be read or was refused: permissions, a folder, FIFO or other
    /// non-regular file in its place, a symbolic link (never followed under the rundir), hard links.
    case unreadable(FileAccessError)

    /// No pid or error code needs more than a few bytes; anything beyond this is not a state file.
    public static let limit = 256

    /// Reads `name` in the unit folder open as `directory` (see `AppStateStore.read`): never follows
    /// a symbolic link, never blocks on a FIFO, reads at most `limit` bytes of a regular file with one link.
    static func read(directory: Int32, name: String, displayPath: String) -> StateFileContent {
        do {
            let bytes = try SafeFile.read(directory: directory, name: name, displayPath: displayPath, limit: limit,
                                          policy: FilePolicy(singleLink: true))
            return .text(String(decoding: bytes, as: UTF8.self))
        } catch {
            return from(error)
        }
    }

    static func from(_ error: FileAccessError) -> StateFileContent {
        switch error.problem.code {
        case .missing: return .missing
        case .tooLarge: return .tooLarge
        default: return .unreadable(error)
        }
    }

    /// The raw text, when the file was read.
    public var text: String? {
        if case .text(let t) = self { return t }
        return nil
    }
}

/// The parsing rules for the two files.
public enum StateFormat {
    /// The longest accepted number, in digits (a pid needs at most 10, an Int at most 19).
    static let maxDigits = 19

    /// A pid: canonical decimal (no sign, spaces or leading zeros), at most one trailing newline, 1...Int32.max.
    public static func parsePID(_ text: String) -> Int32? {
        guard let value = parseDecimal(text, allowMinus: false), value > 0, value <= Int(Int32.max) else { return nil }
        return Int32(value)
    }

    /// An error code: canonical decimal with an optional leading `-`, at most one trailing newline.
    public static func parseError(_ text: String) -> Int? {
        parseDecimal(text, allowMinus: true)
    }

    /// The text without the one trailing newline that writers may add.
    public static func strippingNewline(_ text: String) -> Substring {
        text.hasSuffix("\n") ? text.dropLast() : Substring(text)
    }

    private static func parseDecimal(_ text: String, allowMinus: Bool) -> Int? {
        var bytes = Array(strippingNewline(text).utf8)[...]
        var negative = false
        if allowMinus, bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty, bytes.count <= maxDigits,
              bytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        // Canonical form only: "0" itself, or no leading zero; and no "-0".
        if bytes.first == UInt8(ascii: "0") && (bytes.count > 1 || negative) { return nil }
        var value = 0
        for b in bytes {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = s
        }
        return negative ? -value : value
    }

    /// `text` quoted for a one-line detail: control characters escaped, cut to `limit` characters.
    public static func quoted(_ text: Substring, limit: Int = 40) -> String {
        let cut = text.count > limit ? String(text.prefix(limit)) + "..." : String(text)
        return JSON.quote(cut)
    }
}

/// Both files of a unit, read once.
public struct AppStateSnapshot: Sendable, Equatable {
    public var unit: String
    public var directory: String
    public var pidFile: StateFileContent
    public var errorFile: StateFileContent

    public init(unit: String, directory: String, pidFile: StateFileContent, errorFile: StateFileContent) {
        self.unit = unit
        self.directory = directory
        self.pidFile = pidFile
        self.errorFile = errorFile
    }

    /// The pid file's raw text (nil when missing, too large or unreadable).
    public var pidText: String? { pidFile.text }
    /// The error file's raw text (nil when missing, too large or unreadable).
    public var errorText: String? { errorFile.text }
    /// The pid, when the pid file holds a valid one (see `StateFormat.parsePID`).
    public var pid: Int32? { pidText.flatMap(StateFormat.parsePID) }
    /// The error code, when the error file holds a number (see `StateFormat.parseError`).
    public var error: Int? { errorText.flatMap(StateFormat.parseError) }
}

/// The health verdict for one unit.
///
/// Healthy means all of: the pid file holds an integer greater than 0; `/proc/<pid>` exists; the error file
/// exists and holds exactly `0` (one trailing newline allowed). Every other state has its own reason and
/// a one-line detail.
public struct AppHealth: Sendable, Equatable {
    /// Why a unit is not healthy.
    public enum Reason: String, Sendable, CaseIterable {
        case healthy
        case noPIDFile = "no-pid-file"
        case emptyPIDFile = "empty-pid-file"
        case pidNotANumber = "pid-not-a-number"
        case unreadablePIDFile = "unreadable-pid-file"
        case processGone = "process-gone"
        case noErrorFile = "no-error-file"
        case emptyErrorFile = "empty-error-file"
        case errorNotANumber = "error-not-a-number"
        case errorNotZero = "error-not-zero"
        case unreadableErrorFile = "unreadable-error-file"
    }

    public var reason: Reason
    /// One line, no timestamps: stable from one probe to the next while the state does not change.
    public var detail: String
    public var snapshot: AppStateSnapshot

    public var isHealthy: Bool { reason == .healthy }

    public init(_ snapshot: AppStateSnapshot) {
        self.snapshot = snapshot
        (reason, detail) = Self.judge(snapshot)
    }

    private static func judge(_ s: AppStateSnapshot) -> (Reason, String) {
        let pid: Int32
        switch s.pidFile {
        case .missing:
            return (.noPIDFile, "no pid file \(s.directory)/pid")
        case .tooLarge:
            return (.pidNotANumber, "pid file holds more than \(StateFileContent.limit) bytes")
        case .unreadable(let e):
            return (.unreadablePIDFile, "cannot read pid file \(s.directory)/pid: \(e.because(reading: s.directory + "/pid"))")
        case .text(let text):
            let body = StateFormat.strippingNewline(text)
            if body.isEmpty { return (.emptyPIDFile, "pid file is empty") }
            guard let p = StateFormat.parsePID(text) else {
                return (.pidNotANumber, "pid file holds \(StateFormat.quoted(body))")
            }
            pid = p
        }
        if !Platform.processExists(pid) { return (.processGone, "process \(pid) is gone") }
        switch s.errorFile {
        case .missing:
            return (.noErrorFile, "no error file \(s.directory)/error")
        case .tooLarge:
            return (.errorNotANumber, "error file holds more than \(StateFileContent.limit) bytes")
        case .unreadable(let e):
            return (.unreadableErrorFile, "cannot read error file \(s.directory)/error: \(e.because(reading: s.directory + "/error"))")
        case .text(let text):
            let body = StateFormat.strippingNewline(text)
            if body.isEmpty { return (.emptyErrorFile, "error file is empty") }
            guard let code = StateFormat.parseError(text) else {
                return (.errorNotANumber, "error is \(StateFormat.quoted(body))")
            }
            if code != 0 { return (.errorNotZero, "error is \(StateFormat.quoted(body))") }
        }
        return (.healthy, "process \(pid) is running, error is 0")
    }

    /// For `state show --format json`: `{"schema", "unit", "directory", "healthy", "reason", "detail", "pid", "error",
    /// "pid_text", "error_text"}`; values that are absent are null.
    public var jsonValue: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
        func num<T: BinaryInteger>(_ n: T?) -> JSONValue { n.map { .number(Double($0)) } ?? .null }
        return .object([
            ("schema", .string("readiness-probe/state/1")),  // docs/schema/state.schema.json
            ("unit", .string(snapshot.unit)),
            ("directory", .string(snapshot.directory)),
            ("healthy", .bool(isHealthy)),
            ("reason", .string(reason.rawValue)),
            ("detail", .string(detail)),
            ("pid", num(snapshot.pid)),
            ("error", num(snapshot.error)),
            ("pid_text", opt(snapshot.pidText)),
            ("error_text", opt(snapshot.errorText)),
        ])
    }
}
