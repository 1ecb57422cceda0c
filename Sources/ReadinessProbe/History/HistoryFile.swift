// The flight recorder's file, `<rundir>/readiness-probe/history` (docs/history.md is the manual).
//
// One record per line (HistoryRecord.line: JSON, at most 4000 bytes). Writers (`run`, `serve`,
// the listener) append a batch of lines with ONE write(2) on an O_APPEND descriptor while holding
// flock(LOCK_EX) on the file, so records of several processes never interleave. A writer killed
// mid-write can leave at most a partial last line: the next writer starts its batch with a
// newline when the file does not end with one, so the damage never spreads to a whole record,
// and readers skip the partial line (with a warning). When a batch would take the file past
// `max_size`, the writer (still holding the lock) copies the newest records that fit in 3/4 of
// the cap to a temporary file in the same folder and renames it over the log; a writer that was
// waiting for the lock of the old file sees that the name now leads to another inode and opens
// again. The file gets the trust rules of the ledger: the folder and the file owned by root or
// this user, not writable by group or others, a regular file with one link, never a symlink;
// opened O_NONBLOCK|O_NOFOLLOW, so a FIFO or a link planted there is refused at once.
import ProbeSupport
@preconcurrency import Glibc

/// The [history] section.
struct HistorySettings: Sendable {
    var enabled = true
    /// The cap of the file in bytes; oldest records are dropped first.
    var maxSize = 1 << 20
    static let minSize = 16 << 10
    static let maxSizeLimit = 64 << 20
    init() {}

    /// "1MiB", "512KiB", "65536", "2M", "100k" (K/M/G are powers of 1024, as KiB/MiB).
    static func parseSize(_ text: String) -> Int? {
        let t = text.trimmingASCIIWhitespace()
        let digits = t.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, digits.count <= 12, let n = Int(digits) else { return nil }
        let unit = t.dropFirst(digits.count).trimmingASCIIWhitespace().lowercased()
        let scale: Int
        switch unit {
        case "", "b": scale = 1
        case "k", "kb", "kib": scale = 1 << 10
        case "m", "mb", "mib": scale = 1 << 20
        case "g", "gb", "gib": scale = 1 << 30
        default: return nil
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : v
    }
}

/// Why the history file was not written or read: the message names the path and the fix.
struct HistoryError: Error, CustomStringConvertible, Sendable, Equatable {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// What reading the log gave: the whole records, oldest first, and what was skipped.
struct HistoryLog: Sendable {
    var records: [HistoryRecord] = []
    var warnings: [String] = []
    init() {}
}

struct HistoryFile: Sendable {
    static let name = "history"
    let folder: String
    let maxSize: Int
    var path: String { folder + "/" + Self.name }
    /// How long a writer waits for the lock before it gives up on this batch (never hangs).
    var lockTimeout: Duration = .milliseconds(250)
    /// How far back from the end a writer looks for the last recorded codes.
    static let tailWindows = [4096, 65536]

    init(folder: String, maxSize: Int = 1 << 20) {
        self.folder = folder
        self.maxSize = max(HistorySettings.minSize, maxSize)
    }

    init(settings: ProbeSettings) {
        self.init(folder: Ledger.folder(settings), maxSize: settings.history.maxSize)
    }

    // MARK: writing

    /// Appends what `make` returns, given the codes recorded last (nil: none in the last 64 KiB,
    /// or `needsCodes` false), under the file's lock. Returns the records written (none when
    /// `make` returned none). The folder is created (0755) when missing.
    @discardableResult
    func append(needsCodes: Bool = true, _ make: ([HistoryCode]?) -> [HistoryRecord]) throws(HistoryError) -> [HistoryRecord] {
        let dirFD = try openFolder()
        defer { close(dirFD) }
        for _ in 0..<8 {
            let fd = openat(dirFD, Self.name, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644)
            if fd < 0 { throw openError(Platform.errno, dirFD: dirFD) }
            defer { close(fd) }
            var st = stat()
            if fstat(fd, &st) != 0 { throw HistoryError("cannot stat \(path): \(Platform.describe(errno: Platform.errno))") }
            do { try SafeFile.check(st, path: path, wanted: S_IFREG, policy: FilePolicy(trustedOwner: true, singleLink: true)) } catch {
                throw HistoryError("refusing to write the history: \(error.description)")
            }
            if !lock(fd, LOCK_EX, timeout: lockTimeout) {
                throw HistoryError("\(path) stayed locked for \(DurationText.format(lockTimeout)) (another process holds its lock): these records are not written")
            }
            // Compaction renames a new file over the name while we waited: then open that one.
            var now = stat()
            guard fstatat(dirFD, Self.name, &now, AT_SYMLINK_NOFOLLOW) == 0, now.st_ino == st.st_ino, now.st_dev == st.st_dev else { continue }
            if fstat(fd, &st) != 0 { throw HistoryError("cannot stat \(path): \(Platform.describe(errno: Platform.errno))") }
            let size = Int(st.st_size)
            let codes = needsCodes ? lastCodes(fd, size: size) : nil
            let records = make(codes)
            if records.isEmpty { return [] }
            var bytes: [UInt8] = []
            if size > 0, lastByte(fd, size: size) != 0x0a { bytes.append(0x0a) }
            for r in records { bytes += r.line }
            if size + bytes.count > maxSize {
                try compact(dirFD: dirFD, fd: fd, size: size, appending: bytes)
            } else {
                try writeOnce(fd, bytes)
            }
            return records
        }
        throw HistoryError("\(path) kept being replaced while waiting for its lock: these records are not written")
    }

    /// The folder, created 0755 when missing, else checked (a real folder of root or this user,
    /// not writable by group or others). Unlike the listener, a writer of the history never
    /// repairs a folder's mode: it refuses it.
    func openFolder() throws(HistoryError) -> Int32 {
        // The common case: it exists (no path walk, no mkdir).
        if let fd = try? SafeFile.openDirectory(folder) { return try trustedFolder(fd) }
        if let slash = folder.lastIndex(of: "/"), slash != folder.startIndex {
            do { try Platform.makeDirectories(String(folder[..<slash])) } catch {
                throw HistoryError("cannot create \(String(folder[..<slash])): \(error.message)")
            }
        }
        let created = mkdir(folder, 0o755) == 0
        let fd: Int32
        do { fd = try SafeFile.openDirectory(folder) } catch {
            throw HistoryError("refusing to write the history: \(error.description)")
        }
        if created { _ = fchmod(fd, 0o755) }
        return try trustedFolder(fd)
    }

    /// `fd` (the open folder) if it is a real folder of root or this user, not writable by
    /// group or others; else closed, and the reason thrown.
    private func trustedFolder(_ fd: Int32) throws(HistoryError) -> Int32 {
        var st = stat()
        do throws(FileAccessError) {
            if fstat(fd, &st) != 0 { throw FileAccessError(folder, .system(SystemError("fstat", path: folder))) }
            try SafeFile.check(st, path: folder, wanted: S_IFDIR, policy: .trusted)
        } catch {
            close(fd)
            throw HistoryError("refusing to write the history: \(error.description)")
        }
        return fd
    }

    func openError(_ e: Int32, dirFD: Int32) -> HistoryError {
        var lst = stat()
        let found = fstatat(dirFD, Self.name, &lst, AT_SYMLINK_NOFOLLOW) == 0 ? SafeFile.typeName(lst.st_mode) : nil
        if e == ELOOP || found == "a symbolic link" {
            return HistoryError("refusing to write the history: \(path) is a symbolic link; refusing to follow it (remove it)")
        }
        if let found, found != "a regular file" {
            return HistoryError("refusing to write the history: \(path) is \(found), not a regular file (remove it)")
        }
        return HistoryError("cannot open \(path): \(Platform.describe(errno: e))")
    }

    /// flock with a deadline: LOCK_NB, retried every half millisecond.
    func lock(_ fd: Int32, _ op: Int32, timeout: Duration) -> Bool {
        let deadline = Deadline.after(timeout)
        while true {
            if flock(fd, op | LOCK_NB) == 0 { return true }
            let e = Platform.errno
            if e != EWOULDBLOCK && e != EINTR && e != EAGAIN { return false }
            if deadline.hasPassed { return false }
            usleep(500)
        }
    }

    func writeOnce(_ fd: Int32, _ bytes: [UInt8]) throws(HistoryError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if Platform.errno == EINTR { continue }
                throw HistoryError("cannot write \(path): \(Platform.describe(errno: Platform.errno))")
            }
            offset += n
        }
    }

    func lastByte(_ fd: Int32, size: Int) -> UInt8 {
        var b: UInt8 = 0x0a
        _ = pread(fd, &b, 1, off_t(size - 1))
        return b
    }

    static func preadTail(_ fd: Int32, size: Int, count: Int) -> [UInt8] {
        let n = min(size, count)
        if n <= 0 { return [] }
        var buf = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, n - got, off_t(size - n + got)) }
            if r < 0 && Platform.errno == EINTR { continue }
            if r <= 0 { break }
            got += r
        }
        if got < n { buf.removeSubrange(got...) }
        return buf
    }

    /// The codes of the newest record that carries them, looking back 4 KiB, then 64 KiB. Lines
    /// are found with memrchr and only those that mention codes (memmem) are parsed.
    func lastCodes(_ fd: Int32, size: Int) -> [HistoryCode]? {
        for window in Self.tailWindows {
            let buf = Self.preadTail(fd, size: size, count: window)
            let found: [HistoryCode]?? = buf.withUnsafeBytes { raw -> [HistoryCode]?? in
                guard let base = raw.baseAddress else { return .some(nil) }
                var end = raw.count
                while end > 0 {
                    // The line before `end` (without its newline).
                    var lineEnd = end
                    if raw[lineEnd - 1] == 0x0a { lineEnd -= 1 }
                    var start = lineEnd
                    while start > 0 && raw[start - 1] != 0x0a { start -= 1 }
                    if start == 0 && raw.count < size { return nil }  // cut by the window: look further back
                    if lineEnd > start, Self.mentionsCodes(base + start, lineEnd - start),
                       let r = HistoryRecord(line: buf[start..<lineEnd]), let codes = r.codes {
                        return .some(codes)
                    }
                    end = start
                }
                return .some(nil)
            }
            if let found { return found }
        }
        return nil
    }

    static let codesNeedle = Array("\"codes\":".utf8)

    /// Whether `"codes":` occurs in the bytes (memchr for its first byte, then memcmp).
    static func mentionsCodes(_ p: UnsafeRawPointer, _ count: Int) -> Bool {
        let n = codesNeedle.count
        var at = 0
        return codesNeedle.withUnsafeBytes { needle in
            while count - at >= n {
                guard let hit = memchr(p + at, 0x22, count - at - n + 1) else { return false }
                let i = p.distance(to: UnsafeRawPointer(hit))
                if memcmp(p + i, needle.baseAddress!, n) == 0 { return true }
                at = i + 1
            }
            return false
        }
    }

    /// Keeps the newest whole lines that fit in 3/4 of the cap (with the new batch), in a
    /// temporary file renamed over the log, under the lock the caller holds.
    func compact(dirFD: Int32, fd: Int32, size: Int, appending bytes: [UInt8]) throws(HistoryError) {
        let keep = max(0, maxSize * 3 / 4 - bytes.count)
        var tail = Self.preadTail(fd, size: size, count: keep)
        if tail.count < size, let nl = tail.firstIndex(of: 0x0a) {
            tail.removeSubrange(...nl)  // the first line was cut
        } else if tail.count < size {
            tail.removeAll()
        }
        var batch = bytes
        if tail.isEmpty, batch.first == 0x0a { batch.removeFirst() }
        let tmp = "\(Self.name).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let out = openat(dirFD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if out < 0 { throw HistoryError("cannot create \(folder)/\(tmp): \(Platform.describe(errno: Platform.errno))") }
        do {
            try writeOnce(out, tail + batch)
        } catch {
            close(out)
            unlinkat(dirFD, tmp, 0)
            throw error
        }
        _ = fchmod(out, 0o644)
        close(out)
        if renameat(dirFD, tmp, dirFD, Self.name) != 0 {
            let e = Platform.errno
            unlinkat(dirFD, tmp, 0)
            throw HistoryError("cannot replace \(path): \(Platform.describe(errno: e))")
        }
    }

    // MARK: reading

    /// Reads the log (at most its last `limit` bytes): nil records and no warning when there is
    /// none yet; an error when the folder or the file may not be trusted (see the top of this file).
    func read(limit: Int = HistorySettings.maxSizeLimit) -> Result<HistoryLog, HistoryError> {
        let dir: Int32
        do { dir = try SafeFile.openDirectory(folder) } catch {
            if case .missing = error.problem { return .success(HistoryLog()) }
            return .failure(HistoryError("history not trusted: \(error.description)"))
        }
        defer { close(dir) }
        var st = stat()
        if fstat(dir, &st) != 0 { return .failure(HistoryError("cannot stat \(folder): \(Platform.describe(errno: Platform.errno))")) }
        do throws(FileAccessError) { try SafeFile.check(st, path: folder, wanted: S_IFDIR, policy: .trusted) } catch {
            return .failure(HistoryError("history not trusted: \(error.description)"))
        }
        let fd = openat(dir, Self.name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            let e = Platform.errno
            let err = SafeFile.openError(e, directory: dir, name: Self.name, displayPath: path)
            if case .missing = err.problem { return .success(HistoryLog()) }
            if e == EISDIR { return .failure(HistoryError("history not trusted: \(path) is a directory, not a regular file")) }
            return .failure(HistoryError("history not trusted: \(err.description)"))
        }
        defer { close(fd) }
        if fstat(fd, &st) != 0 { return .failure(HistoryError("cannot stat \(path): \(Platform.describe(errno: Platform.errno))")) }
        do throws(FileAccessError) {
            try SafeFile.check(st, path: path, wanted: S_IFREG, policy: FilePolicy(trustedOwner: true, singleLink: true))
        } catch {
            return .failure(HistoryError("history not trusted: \(error.description)"))
        }
        // A shared lock for a consistent read (a writer holds it for microseconds); read anyway
        // when someone holds it longer.
        _ = lock(fd, LOCK_SH, timeout: .milliseconds(200))
        _ = fstat(fd, &st)
        let size = Int(st.st_size)
        let bytes = Self.preadTail(fd, size: size, count: limit)
        return .success(Self.parse(bytes, cut: bytes.count < size, path: path))
    }

    /// Splits into lines and parses each; garbage and a partial last line are skipped with a warning.
    static func parse(_ bytes: [UInt8], cut: Bool, path: String) -> HistoryLog {
        var log = HistoryLog()
        var start = 0
        if cut, let nl = bytes.firstIndex(of: 0x0a) {
            start = nl + 1
            log.warnings.append("\(path) is larger than the read limit: only its newest \(bytes.count) bytes were read")
        }
        var bad = 0
        var firstBad = -1
        var i = start
        while i < bytes.count {
            guard let nl = bytes[i...].firstIndex(of: 0x0a) else {
                log.warnings.append("\(path): skipped an incomplete last record at byte \(i) (a writer was killed mid-write, or is writing now)")
                break
            }
            let line = bytes[i..<nl]
            if !line.isEmpty {
                if let r = HistoryRecord(line: line) { log.records.append(r) } else {
                    bad += 1
                    if firstBad < 0 { firstBad = i }
                }
            }
            i = nl + 1
        }
        if bad > 0 {
            log.warnings.append("\(path): skipped \(bad) corrupted record\(bad == 1 ? "" : "s") (the first at byte \(firstBad))")
        }
        return log
    }
}
