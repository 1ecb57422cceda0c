// When a reader may trust the event listener's files (the ledger and the cached result).
// docs/event-listener.md, "Who may write what, and when a file is trusted", is the manual.
//
// - The folder `<rundir>/readiness-probe` is a real directory (not a symlink), owned by root
//   or by this user, and not writable by group or others (0755 or stricter).
// - A file in it is opened O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC, must be a regular file
//   owned by root or this user, not writable by group or others, and at most the size limit.
// - Its writer is alive NOW: the same boot (boot id), supervisord's pid still the process
//   with the recorded start time, and the listener's pid too. A file whose writer cannot be
//   verified is not trusted.
// Anything else is a failure with code 11 (the caller falls back to XML-RPC with source =
// auto), or 3 when the supervisord named in the file is not running at all.
import ProbeSupport

@preconcurrency import Glibc

/// The processes that wrote a ledger or cached result, as recorded in the file.
struct WriterIdentity: Sendable, Equatable {
    /// /proc/sys/kernel/random/boot_id when the file was written.
    var bootID: String?
    var listener: ProcessIdentity?
    var supervisord: ProcessIdentity?

    init(bootID: String?, listener: ProcessIdentity?, supervisord: ProcessIdentity?) {
        self.bootID = bootID
        self.listener = listener
        self.supervisord = supervisord
    }

    /// The calling process (the listener) and supervisord's pid (from getPID), as /proc shows them now.
    static func capture(supervisordPID: Int?) -> WriterIdentity {
        var sv: ProcessIdentity? = nil
        if let pid = supervisordPID, case .alive(let p) = ProcessIdentity.lookup(pid) { sv = p }
        return WriterIdentity(bootID: ProcessIdentity.bootID, listener: ProcessIdentity.current(), supervisord: sv)
    }

    /// The JSON keys every trusted file carries.
    var jsonFields: [(String, JSONValue)] {
        func n(_ v: Int?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        func t(_ v: UInt64?) -> JSONValue { v.map { .number(Double($0)) } ?? .null }
        return [
            ("boot_id", bootID.map { .string($0) } ?? .null),
            ("listener_pid", n(listener?.pid)), ("listener_start", t(listener?.startTime)),
            ("supervisord_pid", n(supervisord?.pid)), ("supervisord_start", t(supervisord?.startTime)),
        ]
    }

    init(json v: JSONValue) {
        func ident(_ pidKey: String, _ startKey: String) -> ProcessIdentity? {
            guard let pid = v[pidKey]?.intValue, pid > 0, let s = v[startKey]?.doubleValue, s >= 0, s < 1.8e19,
                  s == s.rounded() else { return nil }
            return ProcessIdentity(pid: pid, startTime: UInt64(s))
        }
        bootID = v["boot_id"]?.stringValue
        listener = ident("listener_pid", "listener_start")
        supervisord = ident("supervisord_pid", "supervisord_start")
    }
}

/// Why a file is not trusted: a code (11, or 3 when supervisord is gone) and the explanation.
struct TrustFailure: Error, Sendable, Equatable {
    var code: Int32
    var detail: String
    var summary: String

    init(code: Int32 = Codes.noFreshResult, _ detail: String, summary: String) {
        self.code = code
        self.detail = detail
        self.summary = summary
    }
}

enum WriterTrust {
    /// Files in the folder are capped at this size.
    static let sizeLimit = 4 << 20

    static func modeText(_ mode: UInt32) -> String {
        let p = mode & 0o7777
        let digits = String(p, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// What reading a file of the folder gave.
    enum Read: Sendable {
        case missing
        case bytes([UInt8])
        case untrusted(String)
    }

    /// Reads `folder/name` if the folder and the file may be trusted (see the top of this file).
    /// The one read of the ledger and the cached result, through ProbeSupport's SafeFile: the
    /// folder opened O_DIRECTORY|O_NOFOLLOW and checked (owner, mode), then the file read
    /// relative to that descriptor with `FilePolicy.trusted` (O_NONBLOCK|O_NOFOLLOW, regular
    /// file, owner, mode, size cap): no symlink is followed, a FIFO never blocks.
    static func read(folder: String, name: String, limit: Int = sizeLimit) -> Read {
        let dir: Int32
        do { dir = try SafeFile.openDirectory(folder) } catch {
            if case .missing = error.problem { return .missing }
            return .untrusted(error.description)
        }
        defer { close(dir) }
        var st = stat()
        if fstat(dir, &st) != 0 { return .untrusted("cannot stat \(folder): \(Platform.describe(errno: Platform.errno))") }
        do throws(FileAccessError) {
            try SafeFile.check(st, path: folder, wanted: S_IFDIR, policy: .trusted)
            return .bytes(try SafeFile.read(directory: dir, name: name, displayPath: folder + "/" + name, limit: limit, policy: .trusted))
        } catch {
            if case .missing = error.problem { return .missing }
            return .untrusted(error.description)
        }
    }

    /// Whether the writer recorded in a file is alive now: `verifySupervisord`, then `verifyListener`.
    /// `what` names the file for messages ("event listener ledger /run/readiness-probe/ledger.json").
    static func verify(_ id: WriterIdentity, what: String) -> TrustFailure? {
        verifySupervisord(id, what: what) ?? verifyListener(id, what: what)
    }

    /// The same boot, and supervisord's pid is still the recorded process. Code 3 when no process
    /// has that pid any more; 11 for everything else.
    static func verifySupervisord(_ id: WriterIdentity, what: String) -> TrustFailure? {
        guard let recordedBoot = id.bootID else {
            return TrustFailure("\(what) does not say which boot wrote it (its writer cannot be verified)", summary: "\(short(what)) unverifiable")
        }
        guard let boot = ProcessIdentity.bootID else {
            return TrustFailure("cannot read /proc/sys/kernel/random/boot_id, so the writer of \(what) cannot be verified",
                                summary: "\(short(what)) unverifiable")
        }
        if boot != recordedBoot {
            return TrustFailure("\(what) was written before the last reboot (boot id \(recordedBoot), now \(boot))",
                                summary: "\(short(what)) is from another boot")
        }
        guard let sv = id.supervisord else {
            return TrustFailure("\(what) does not name supervisord's process (the listener could not ask supervisord for its pid yet)",
                                summary: "\(short(what)) unverifiable")
        }
        switch ProcessIdentity.lookup(sv.pid) {
        case .gone:
            return TrustFailure(code: Codes.supervisorUnavailable,
                                "supervisord (pid \(sv.pid)), which the event listener served, is not running (\(what) is left over)",
                                summary: "supervisord is not running")
        case .unknown(let why):
            return TrustFailure("cannot verify that supervisord (pid \(sv.pid)) still runs: \(why)", summary: "\(short(what)) unverifiable")
        case .alive(let now) where now.startTime != sv.startTime:
            return TrustFailure("pid \(sv.pid) is no longer the supervisord that the writer of \(what) served (start time \(now.startTime), "
                                + "recorded \(sv.startTime): supervisord was restarted, or the file is from another pid namespace)",
                                summary: "\(short(what)) is from another supervisord")
        case .alive:
            return nil
        }
    }

    /// The listener's pid is still the recorded process.
    static func verifyListener(_ id: WriterIdentity, what: String) -> TrustFailure? {
        guard let l = id.listener else {
            return TrustFailure("\(what) does not name the event listener's process", summary: "\(short(what)) unverifiable")
        }
        switch ProcessIdentity.lookup(l.pid) {
        case .gone:
            return TrustFailure("the event listener (pid \(l.pid)) that wrote \(what) is not running", summary: "event listener not running")
        case .unknown(let why):
            return TrustFailure("cannot verify that the event listener (pid \(l.pid)) still runs: \(why)", summary: "\(short(what)) unverifiable")
        case .alive(let now) where now.startTime != l.startTime:
            return TrustFailure("pid \(l.pid) is no longer the event listener that wrote \(what) (start time \(now.startTime), recorded \(l.startTime))",
                                summary: "event listener not running")
        case .alive:
            return nil
        }
    }

    /// "event listener ledger /path" -> "event listener ledger".
    static func short(_ what: String) -> String {
        guard let slash = what.firstIndex(of: "/") else { return what }
        return String(what[..<slash]).trimmingTrailingSpaces()
    }

    /// A file written within `maxAge` of `now`, and not after `now` (plus one second for clock
    /// steps between processes); nil when fresh.
    static func freshness(writtenAt: Double, now: Double, maxAge: Duration, what: String, limitName: String = "max age",
                                 hint: String = "") -> TrustFailure? {
        let age = now - writtenAt
        if age < -1 {
            return TrustFailure("\(what) is from the future (written \(Decimal1.format(-age, digits: 1))s after now): not trusted",
                                summary: "\(short(what)) is from the future")
        }
        if age > maxAge.secondsDouble {
            return TrustFailure("\(what) is \(Decimal1.format(age, digits: 1))s old (\(limitName) \(DurationText.format(maxAge))\(hint))",
                                summary: "\(short(what)) is stale")
        }
        return nil
    }

    // MARK: the writer's side (the listener)

    /// Creates `path` (mode 0755, owned by this user) or checks it, and opens it (O_DIRECTORY |
    /// O_NOFOLLOW): the writer then writes through that descriptor, so a folder swapped for a
    /// symlink afterwards cannot redirect a write. A folder of this user that is writable by
    /// group or others is set to 0755 (with a warning); a symlink, a non-directory or a folder
    /// of another user is an error: nothing is written there.
    static func openFolder(_ path: String) -> (fd: Int32, message: String?) {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            do { try Platform.makeDirectories(String(path[..<slash])) } catch {
                return (-1, "cannot create \(String(path[..<slash])): \(error.message)")
            }
        }
        let created = mkdir(path, 0o755) == 0
        if !created && Platform.errno != EEXIST {
            return (-1, "cannot create \(path): \(Platform.describe(errno: Platform.errno))")
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            let e = Platform.errno
            var lst = stat()
            if e == ELOOP || (lstat(path, &lst) == 0 && lst.st_mode & S_IFMT == S_IFLNK) {
                return (-1, "\(path) is a symbolic link: refusing to write there (remove it)")
            }
            if e == ENOTDIR { return (-1, "\(path) is not a directory: refusing to write there") }
            return (-1, "cannot open \(path): \(Platform.describe(errno: e))")
        }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = Platform.errno
            close(fd)
            return (-1, "cannot stat \(path): \(Platform.describe(errno: e))")
        }
        if created { _ = fchmod(fd, 0o755) }  // exactly 0755, whatever the umask
        if st.st_uid != geteuid() {
            close(fd)
            return (-1, "\(path) is owned by uid \(st.st_uid), not by this user (uid \(geteuid())): refusing to write there (remove it)")
        }
        if st.st_mode & 0o022 != 0 {
            let was = modeText(st.st_mode)
            if fchmod(fd, 0o755) != 0 {
                let e = Platform.errno
                close(fd)
                return (-1, "cannot set \(path) to mode 0755 (it is \(was)): \(Platform.describe(errno: e))")
            }
            return (fd, "\(path) was writable by group or others (mode \(was)); set to 0755")
        }
        return (fd, nil)
    }

    /// Writes `bytes` to `name` in the folder `dirFD` atomically: a temporary `NAME.tmp.PID.RANDOM`
    /// created exclusively (never following a link), mode 0644, then renameat(2) over `name`
    /// (`Platform.writeFileAtomically(directory:...)`, the one implementation).
    static func writeAtomically(dirFD: Int32, name: String, _ bytes: [UInt8]) throws(SystemError) {
        try Platform.writeFileAtomically(directory: dirFD, name: name, displayPath: name, bytes, mode: 0o644)
    }

    /// Removes temporary files (`NAME.tmp.PID.RANDOM`) that a killed writer left in the folder
    /// `dirFD`: those of a pid that is not running, of this process (none is in flight when this
    /// is called), or older than a minute. Never follows a symlink. Returns the names removed.
    @discardableResult
    static func removeStaleTemporaries(dirFD: Int32, now: Double = Platform.epochSeconds()) -> [String] {
        let dup = fcntl(dirFD, F_DUPFD_CLOEXEC, 0)
        guard dup >= 0, let dir = fdopendir(dup) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.contains(".tmp.") { names.append(name) }
        }
        let me = Int(getpid())
        var removed: [String] = []
        for name in names {
            guard let r = name.firstRange(of: ".tmp.") else { continue }
            let pid = name[r.upperBound...].split(separator: ".").first.flatMap { Int($0) } ?? 0
            var st = stat()
            guard fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT != S_IFDIR else { continue }
            var stale = now - Double(st.st_mtim.tv_sec) > 60 || pid == me || pid <= 0
            if !stale, case .gone = ProcessIdentity.lookup(pid) { stale = true }
            if stale && unlinkat(dirFD, name, 0) == 0 { removed.append(name) }
        }
        return removed
    }
}

extension Ledger {
    /// The ledger of `settings`' rundir if a reader may trust it now, else why not (code 11, or
    /// 3 when its supervisord is gone or shutting down). In this order: the folder and file
    /// checks, the same boot and the same supervisord process, supervisord not STOPPING, the
    /// listener not closed and still the same process, written within `ledger_max_age` and not
    /// in the future, seeded (`complete`).
    static func trusted(_ settings: ProbeSettings, now: Double) -> Result<Ledger, TrustFailure> {
        let path = Ledger.path(settings)
        let what = "event listener ledger \(path)"
        let ledger: Ledger
        do {
            guard let l = try Ledger.read(path: path) else {
                return .failure(TrustFailure("no event listener ledger at \(path) (is `readiness-probe listen` running as a supervisord [eventlistener]?)",
                                             summary: "no event listener ledger"))
            }
            ledger = l
        } catch {
            return .failure(TrustFailure("event listener ledger unreadable: \(error.reason)", summary: "event listener ledger unreadable"))
        }
        let writer = ledger.writer
        if let f = WriterTrust.verifySupervisord(writer, what: what) { return .failure(f) }
        if ledger.supervisordState == "STOPPING" {
            return .failure(TrustFailure(code: Codes.supervisorUnavailable,
                                         "supervisord is shutting down (SUPERVISOR_STATE_CHANGE_STOPPING seen by the event listener)",
                                         summary: "supervisord is shutting down"))
        }
        if ledger.closed {
            return .failure(TrustFailure("the event listener has stopped and no longer keeps \(path)", summary: "event listener stopped"))
        }
        if let f = WriterTrust.verifyListener(writer, what: what) { return .failure(f) }
        if let f = WriterTrust.freshness(writtenAt: ledger.writtenAt, now: now, maxAge: settings.supervisor.ledgerMaxAge, what: what,
                                         limitName: "ledger_max_age", hint: "; is the listener subscribed to TICK_5?") {
            return .failure(f)
        }
        if !ledger.complete {
            return .failure(TrustFailure("event listener ledger is incomplete: the listener could not ask supervisord for every program yet (it retries on TICK)",
                                         summary: "event listener ledger is incomplete"))
        }
        return .success(ledger)
    }
}
