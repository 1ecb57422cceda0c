import ProbeSupport

/// One line of `supervisorctl status` output.
public enum StatusLine: Sendable, Equatable {
    /// A process line. The text does not carry the exit status: `exitStatus` is nil. For BACKOFF and
    /// FATAL the description is the spawn error, and is copied to `spawnError`; for RUNNING, `pid` is set.
    case process(SupervisorProcess)
    /// `NAME: ERROR (no such process)`.
    case noSuchProcess(name: String)
    /// `NAME: ERROR (no such group)`.
    case noSuchGroup(name: String)
    /// A line saying supervisord could not be asked (socket missing, refused, authentication,
    /// a fault such as SHUTDOWN_STATE), or any line not understood (`.supervisorctlFailed`).
    case error(SupervisorError)
}

/// Parsing what `supervisorctl status` writes. Its exit status is not a readiness signal (it is 3 for
/// a one-shot that exited 0, and 0 for a process in BACKOFF), so everything comes from the text.
public enum SupervisorctlStatus {
    /// Lines longer than this are cut before parsing; more lines than `maxLines` are ignored.
    public static let maxLineLength = 4096
    public static let maxLines = 100_000

    /// Parses the whole output; empty lines are skipped.
    public static func parse(_ text: String) -> [StatusLine] {
        var out: [StatusLine] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(maxLines) {
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.unicodeScalars.allSatisfy(\.isASCIIWhitespace) { continue }
            out.append(parseLine(String(line.prefix(maxLineLength))))
        }
        return out
    }

    /// Parses one line (without its newline).
    public static func parseLine(_ line: String) -> StatusLine {
        let t = line.trimmingASCIIWhitespace()
        if let name = t.withoutSuffix(": ERROR (no such process)") { return .noSuchProcess(name: name) }
        if let name = t.withoutSuffix(": ERROR (no such group)") { return .noSuchGroup(name: name) }
        if let e = classifyError(line) { return .error(e) }
        if let p = processLine(line) { return .process(p) }
        return .error(.supervisorctlFailed(output: line))
    }

    /// Classifies supervisorctl's error lines; nil if the line is not one of them.
    public static func classifyError(_ line: String) -> SupervisorError? {
        let trimmed = line.trimmingASCIIWhitespace()
        // `unix:///path no such file`, `http://host:port refused connection`
        if trimmed.hasPrefix("unix://") || trimmed.hasPrefix("http://") {
            if let url = trimmed.withoutSuffix(" no such file") {
                return .noSocket(path: url.hasPrefix("unix://") ? String(url.dropFirst(7)) : url)
            }
            if let url = trimmed.withoutSuffix(" refused connection") {
                return .connectionRefused(endpoint: url)
            }
        }
        if trimmed.hasPrefix("Server requires authentication") {
            return .authenticationRequired(endpoint: "")
        }
        if trimmed.hasPrefix("error:") {
            if let fault = faultIn(trimmed) { return SupervisorError.fromFault(code: fault.code, string: fault.string) }
            if let status = protocolErrorIn(trimmed) {
                return status.code == 401 ? .authenticationRequired(endpoint: "") : .httpStatus(code: status.code, reason: status.reason)
            }
            if trimmed.contains("Permission denied") || trimmed.contains("PermissionError") {
                return .permissionDenied(endpoint: trimmed)
            }
            return .supervisorctlFailed(output: trimmed)
        }
        return nil
    }

    /// Finds `<Fault N: 'TEXT'>` (Python's repr of an xmlrpc Fault) in a line.
    static func faultIn(_ line: String) -> (code: Int, string: String)? {
        guard let start = line.firstRange(of: "<Fault ") else { return nil }
        let rest = line[start.upperBound...]
        guard let colon = rest.firstIndex(of: ":"), let code = Int(rest[..<colon].trimmingASCIIWhitespace()) else { return nil }
        var text = rest[rest.index(after: colon)...].drop(while: { $0 == " " })
        if let end = text.firstIndex(of: ">") { text = text[..<end] }
        var s = String(text)
        if s.count >= 2, let q = s.first, q == "'" || q == "\"", s.last == q { s = String(s.dropFirst().dropLast()) }
        return (code, s)
    }

    /// Finds `<ProtocolError for HOST/RPC2: 401 Unauthorized>` (an HTTP error status) in a line.
    static func protocolErrorIn(_ line: String) -> (code: Int, reason: String)? {
        guard let start = line.firstRange(of: "<ProtocolError for ") else { return nil }
        var rest = line[start.upperBound...]
        if let end = rest.firstIndex(of: ">") { rest = rest[..<end] }
        guard let colon = rest.lastIndex(of: ":") else { return nil }
        let status = rest[rest.index(after: colon)...].trimmingASCIIWhitespace()
        let code = status.prefix(while: { $0.isASCII && $0.isNumber })
        guard code.count == 3, let n = Int(code) else { return nil }
        return (n, status.dropFirst(3).trimmingASCIIWhitespace())
    }

    /// `namespec  STATE  description`: the name, the first run of whitespace, the state word, the rest.
    static func processLine(_ line: String) -> SupervisorProcess? {
        let scalars = Substring(line)
        guard let nameEnd = scalars.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let namespec = String(scalars[..<nameEnd])
        guard !namespec.isEmpty else { return nil }
        let afterName = scalars[nameEnd...].drop(while: { $0 == " " || $0 == "\t" })
        let stateEnd = afterName.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? afterName.endIndex
        guard let state = ProcessState(name: String(afterName[..<stateEnd])) else { return nil }
        let desc = afterName[stateEnd...].trimmingASCIIWhitespace()

        let group: String, name: String
        if let colon = namespec.firstIndex(of: ":") {
            group = String(namespec[..<colon])
            name = String(namespec[namespec.index(after: colon)...])
        } else {
            group = namespec
            name = namespec
        }
        guard !group.isEmpty, !name.isEmpty else { return nil }
        var p = SupervisorProcess(name: name, group: group, state: state, description: desc)
        if state == .backoff || state == .fatal { p.spawnError = desc }
        if state == .running, desc.hasPrefix("pid "), let comma = desc.firstIndex(of: ",") {
            p.pid = Int(desc[desc.index(desc.startIndex, offsetBy: 4)..<comma]) ?? 0
        }
        return p
    }
}

extension String {
    /// The string without `suffix`, or nil if it does not end with it.
    func withoutSuffix(_ suffix: String) -> String? {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : nil
    }
}
