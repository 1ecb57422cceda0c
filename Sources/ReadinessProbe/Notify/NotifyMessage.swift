// systemd's notify protocol (sd_notify(3)): one datagram holds newline-separated KEY=VALUE
// assignments. This is the bounded parser the listener runs on every datagram it receives on
// its notify socket; docs/notify.md is the manual. Unknown keys are ignored (as systemd does);
// a datagram that is too large, holds a NUL byte, is not UTF-8, or holds no assignment at all
// is malformed and dropped whole (counted by the listener, never applied in part).
import ProbeSupport

struct NotifyMessage: Sendable, Equatable {
    /// Datagrams longer than this are dropped (systemd reads at most PIPE_BUF = 4096 bytes).
    static let maxBytes = 4096
    /// STATUS= text longer than this is cut (at a character boundary).
    static let maxStatusBytes = 512
    /// WATCHDOG_USEC= above this (about 12.7 days) is ignored.
    static let maxWatchdogUSec: UInt64 = 1 << 40

    enum Watchdog: Sendable, Equatable {
        /// WATCHDOG=1: the program is alive.
        case ping
        /// WATCHDOG=trigger: the program asks to be treated as failed.
        case trigger
    }

    var ready = false
    var stopping = false
    var reloading = false
    var status: String? = nil
    var errno: Int? = nil
    var watchdog: Watchdog? = nil
    /// WATCHDOG_USEC=: the program changes its own watchdog period (microseconds).
    var watchdogUSec: UInt64? = nil
    var extendTimeoutUSec: UInt64? = nil
    var mainPID: Int? = nil
    /// BARRIER=1 (systemd-notify sends it with a file descriptor after each message).
    var barrier = false
    /// Assignments with keys this parser does not act on (FDSTORE=, MONOTONIC_USEC=, ...), or
    /// with values it does not accept (READY=0, MAINPID=abc).
    var ignored = 0

    init() {}

    enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        case tooLarge(Int)
        case containsNUL
        case notUTF8
        case noAssignment

        var description: String {
            switch self {
            case .empty: "empty datagram"
            case .tooLarge(let n): "datagram of \(n) bytes (more than \(NotifyMessage.maxBytes))"
            case .containsNUL: "datagram holds a NUL byte"
            case .notUTF8: "datagram is not UTF-8"
            case .noAssignment: "datagram holds no KEY=VALUE line"
            }
        }
    }

    /// Parses one datagram. `length` is its full length when the receive buffer cut it.
    static func parse(_ bytes: some Collection<UInt8>, length: Int? = nil) throws(ParseError) -> NotifyMessage {
        let total = length ?? bytes.count
        if total > maxBytes || bytes.count > maxBytes { throw .tooLarge(max(total, bytes.count)) }
        if bytes.isEmpty { throw .empty }
        let array = Array(bytes)
        if array.contains(0) { throw .containsNUL }
        guard String(validating: array, as: UTF8.self) != nil else { throw .notUTF8 }
        var m = NotifyMessage()
        var assignments = 0
        for line in array.split(separator: 0x0A, omittingEmptySubsequences: true) {
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")), eq > line.startIndex else {
                m.ignored += 1
                continue
            }
            assignments += 1
            let key = line[line.startIndex..<eq]
            let value = line[(eq + 1)...]
            func isValue(_ s: String) -> Bool { value.elementsEqual(s.utf8) }
            func number() -> UInt64? {
                guard !value.isEmpty, value.count <= 20, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
                var n: UInt64 = 0
                for d in value {
                    let (a, o1) = n.multipliedReportingOverflow(by: 10)
                    let (b, o2) = a.addingReportingOverflow(UInt64(d - 0x30))
                    if o1 || o2 { return nil }
                    n = b
                }
                return n
            }
            switch String(decoding: key, as: UTF8.self) {
            case "READY": if isValue("1") { m.ready = true } else { m.ignored += 1 }
            case "STOPPING": if isValue("1") { m.stopping = true } else { m.ignored += 1 }
            case "RELOADING": if isValue("1") { m.reloading = true } else { m.ignored += 1 }
            case "BARRIER": if isValue("1") { m.barrier = true } else { m.ignored += 1 }
            case "STATUS": m.status = clip(String(decoding: value, as: UTF8.self), maxStatusBytes)
            case "ERRNO":
                if let n = number(), n <= 4095 { m.errno = Int(n) } else { m.ignored += 1 }
            case "WATCHDOG":
                if isValue("1") { m.watchdog = .ping }
                else if isValue("trigger") { m.watchdog = .trigger }
                else { m.ignored += 1 }
            case "WATCHDOG_USEC":
                if let n = number(), n > 0, n <= maxWatchdogUSec { m.watchdogUSec = n } else { m.ignored += 1 }
            case "EXTEND_TIMEOUT_USEC":
                if let n = number() { m.extendTimeoutUSec = n } else { m.ignored += 1 }
            case "MAINPID":
                if let n = number(), n > 1, n <= 1 << 22 { m.mainPID = Int(n) } else { m.ignored += 1 }
            default: m.ignored += 1
            }
        }
        if assignments == 0 { throw .noAssignment }
        return m
    }

    /// The first `limit` bytes of `s`, cut at a character boundary.
    static func clip(_ s: String, _ limit: Int) -> String {
        if s.utf8.count <= limit { return s }
        var out = ""
        var used = 0
        for ch in s {
            let n = ch.utf8.count
            if used + n > limit { break }
            out.append(ch)
            used += n
        }
        return out
    }

    /// The datagram a sender writes for this message (the `notify` command; tests).
    var encoded: [UInt8] {
        var lines: [String] = []
        if ready { lines.append("READY=1") }
        if reloading { lines.append("RELOADING=1") }
        if stopping { lines.append("STOPPING=1") }
        if let status { lines.append("STATUS=" + status) }
        if let errno { lines.append("ERRNO=\(errno)") }
        switch watchdog {
        case .ping: lines.append("WATCHDOG=1")
        case .trigger: lines.append("WATCHDOG=trigger")
        case nil: break
        }
        if let watchdogUSec { lines.append("WATCHDOG_USEC=\(watchdogUSec)") }
        if let extendTimeoutUSec { lines.append("EXTEND_TIMEOUT_USEC=\(extendTimeoutUSec)") }
        if let mainPID { lines.append("MAINPID=\(mainPID)") }
        if barrier { lines.append("BARRIER=1") }
        return Array(lines.joined(separator: "\n").utf8)
    }
}

/// A notify socket address as NOTIFY_SOCKET spells it: an absolute path, or `@name` for the
/// abstract namespace (the `@` becomes a NUL byte, as systemd does).
struct NotifyAddress: Sendable, Equatable, CustomStringConvertible {
    var text: String

    init?(_ text: String) {
        guard text.utf8.count >= 2, text.utf8.count <= 107, !text.utf8.contains(0),
              text.hasPrefix("/") || text.hasPrefix("@") else { return nil }
        self.text = text
    }

    var isAbstract: Bool { text.hasPrefix("@") }
    /// The bytes of sun_path: for an abstract address a NUL, then the name.
    var socketBytes: [UInt8] { isAbstract ? [0] + Array(text.utf8.dropFirst()) : Array(text.utf8) }
    var description: String { text }
}
