// Who a process is, beyond its pid: pids are reused (and supervisord in a container is always
// pid 1), so a process is identified by its pid, its start time (field 22 of /proc/PID/stat:
// clock ticks after boot, fixed for the process's life) and the boot it belongs to
// (/proc/sys/kernel/random/boot_id). Used to decide whether the writer of a file (the event
// listener's ledger, the cached result) is still the process it names.
@preconcurrency import Glibc

/// A running process as /proc shows it.
public struct ProcessIdentity: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int
    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot.
    public var startTime: UInt64

    public init(pid: Int, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    public var description: String { "pid \(pid) (start time \(startTime))" }

    /// What /proc says about a pid right now.
    public enum Lookup: Sendable, Equatable {
        /// Running (or sleeping, stopped...): not a zombie.
        case alive(ProcessIdentity)
        /// No such process, or a zombie (it has exited and waits to be reaped).
        case gone
        /// /proc could not be read for another reason (not mounted, hidepid, ...).
        case unknown(String)
    }

    /// The process with this pid now.
    public static func lookup(_ pid: Int) -> Lookup {
        guard pid > 0, pid <= Int(Int32.max) else { return .gone }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let path = "/proc/\(pid)/stat"
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            let e = Platform.errno
            if e == ENOENT || e == ESRCH { return .gone }
            return .unknown("cannot open \(path): \(Platform.describe(errno: e))")
        }
        defer { close(fd) }
        var n = 0
        while n < buffer.count {
            let r = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + n, $0.count - n) }
            if r < 0 {
                if Platform.errno == EINTR { continue }
                let e = Platform.errno
                if e == ESRCH { return .gone }
                return .unknown("cannot read \(path): \(Platform.describe(errno: e))")
            }
            if r == 0 { break }
            n += r
        }
        guard let stat = parseStat(buffer[0..<n]) else { return .unknown("\(path) is not in the expected format") }
        if stat.state == UInt8(ascii: "Z") || stat.state == UInt8(ascii: "X") || stat.state == UInt8(ascii: "x") { return .gone }
        return .alive(ProcessIdentity(pid: pid, startTime: stat.startTime))
    }

    /// The calling process.
    public static func current() -> ProcessIdentity? {
        if case .alive(let me) = lookup(Int(getpid())) { return me }
        return nil
    }

    /// The state letter (field 3) and the start time (field 22) of a /proc/PID/stat line. The
    /// command name (field 2) is in parentheses and may hold spaces and parentheses: fields
    /// are counted after the last `)`.
    public static func parseStat(_ bytes: ArraySlice<UInt8>) -> (state: UInt8, startTime: UInt64)? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        var field = 2           // the field the cursor is in: `)` ends field 2
        var i = close + 1
        var state: UInt8? = nil
        var value: UInt64 = 0
        var digits = 0
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: " ") {
                if field == 22 { break }
                field += 1
                i += 1
                continue
            }
            if field == 3 && state == nil { state = b }
            if field == 22 {
                guard b >= 48 && b <= 57, digits < 20 else { return nil }
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(b - 48))
                if o1 || o2 { return nil }
                value = s
                digits += 1
            }
            i += 1
        }
        guard let state, field == 22, digits > 0 else { return nil }
        return (state, value)
    }

    /// This boot's id (/proc/sys/kernel/random/boot_id, a UUID), read once per process; nil
    /// when it cannot be read.
    public static let bootID: String? = readBootID()

    static func readBootID() -> String? {
        let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        var n = 0
        while n < buffer.count {
            let r = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + n, $0.count - n) }
            if r < 0 { if Platform.errno == EINTR { continue }; return nil }
            if r == 0 { break }
            n += r
        }
        var text = buffer[0..<n]
        while let last = text.last, last == 10 || last == 32 { text = text.dropLast() }
        // A UUID: 36 characters of hex digits and dashes.
        guard text.count == 36, text.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) || $0 == 45 })
        else { return nil }
        return String(decoding: text, as: UTF8.self)
    }
}
