@preconcurrency import Glibc
import CShim

/// Why a file was not read (or not trusted): a `code` (compare it with `==` or `switch` over it
/// against the static members of `FileProblem.Code`, with a `default`) and the details that go
/// with it. Build one with the static members named as the causes (`.missing`,
/// `.wrongType(found:wanted:)`, `.system(_:)`, ...).
///
/// A struct rather than an enum, as `SupervisorError` is: a new cause is not a source-breaking
/// change for callers.
public struct FileProblem: Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the file. New codes may be added; `switch` over it with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Value: String, Sendable {
            case missing, symlink, wrongType, tooLarge, owner, writable, hardLinked, unresolvable, system
        }
        let value: Value
        init(_ value: Value) { self.value = value }

        /// It (or a folder on its path) does not exist.
        public static let missing = Code(.missing)
        /// A symbolic link where none may be followed.
        public static let symlink = Code(.symlink)
        /// Not a regular file (or, where a folder is wanted, not a folder): `found`, `wanted`.
        public static let wrongType = Code(.wrongType)
        /// Larger than the limit (`number`, in bytes).
        public static let tooLarge = Code(.tooLarge)
        /// Owned by a user (`number`: the uid) other than root and the probe's own user.
        public static let owner = Code(.owner)
        /// Writable by its group or by others (`number`: the mode).
        public static let writable = Code(.writable)
        /// More than one hard link (`number`: how many): the same inode is also reachable elsewhere.
        public static let hardLinked = Code(.hardLinked)
        /// Too many symbolic links, or a path too long to resolve (`found`: why).
        public static let unresolvable = Code(.unresolvable)
        /// Any other failed system call (`systemError`).
        public static let system = Code(.system)

        /// The code's name, e.g. `wrongType`.
        public var description: String { value.rawValue }
    }

    /// What is wrong.
    public let code: Code
    /// `.wrongType`: what the file is ("a FIFO"); `.unresolvable`: why ("" otherwise).
    public let found: String
    /// `.wrongType`: what it should be ("a regular file", "a directory"; "" otherwise).
    public let wanted: String
    /// `.tooLarge`: the limit in bytes; `.owner`: the uid; `.writable`: the mode; `.hardLinked`:
    /// the link count (0 otherwise).
    public let number: Int
    /// `.system`: the failed call.
    public let systemError: SystemError?

    init(_ code: Code, found: String = "", wanted: String = "", number: Int = 0, systemError: SystemError? = nil) {
        self.code = code
        self.found = found
        self.wanted = wanted
        self.number = number
        self.systemError = systemError
    }

    /// It (or a folder on its path) does not exist.
    public static let missing = FileProblem(.missing)
    /// A symbolic link where none may be followed.
    public static let symlink = FileProblem(.symlink)
    /// Not a regular file (or, where a folder is wanted, not a folder): "a FIFO", "a directory", ...
    public static func wrongType(found: String, wanted: String) -> FileProblem { FileProblem(.wrongType, found: found, wanted: wanted) }
    /// Larger than `limit` bytes.
    public static func tooLarge(limit: Int) -> FileProblem { FileProblem(.tooLarge, number: limit) }
    /// Owned by `uid`, which is neither root nor the probe's own user.
    public static func owner(uid: UInt32) -> FileProblem { FileProblem(.owner, number: Int(uid)) }
    /// Writable by its group or by others (`mode`: the file's mode).
    public static func writable(mode: UInt32) -> FileProblem { FileProblem(.writable, number: Int(mode)) }
    /// `count` hard links: the same inode is also reachable elsewhere (a state file never is).
    public static func hardLinked(count: Int) -> FileProblem { FileProblem(.hardLinked, number: count) }
    /// Too many symbolic links, or a path too long to resolve: `why`.
    public static func unresolvable(_ why: String) -> FileProblem { FileProblem(.unresolvable, found: why) }
    /// Any other failed system call.
    public static func system(_ error: SystemError) -> FileProblem { FileProblem(.system, systemError: error) }

    /// The code and its details, for test failures and logs.
    public var description: String {
        switch code.value {
        case .missing, .symlink: code.description
        case .wrongType: "wrongType(found: \(found), wanted: \(wanted))"
        case .tooLarge: "tooLarge(limit: \(number))"
        case .owner: "owner(uid: \(number))"
        case .writable: "writable(mode: \(String(number, radix: 8)))"
        case .hardLinked: "hardLinked(count: \(number))"
        case .unresolvable: "unresolvable(\(found))"
        case .system: "system(\(systemError.map(String.init(describing:)) ?? ""))"
        }
    }
}

/// A file the probe refused to read or use: the path, what is wrong, and the fix.
public struct FileAccessError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var problem: FileProblem

    public init(_ path: String, _ problem: FileProblem) {
        self.path = path
        self.problem = problem
    }

    /// errno-like value for callers that map errors (ENOENT for missing, ELOOP for a symlink, ...).
    public var errno: Int32 {
        switch problem.code.value {
        case .missing: return ENOENT
        case .symlink: return ELOOP
        case .wrongType: return problem.wanted == "a directory" ? ENOTDIR : EINVAL
        case .tooLarge: return EFBIG
        case .owner, .writable, .hardLinked: return EPERM
        case .unresolvable: return ELOOP
        case .system: return problem.systemError?.errno ?? EIO
        }
    }

    /// What is wrong, without the path: "is a FIFO, not a regular file".
    public var reason: String {
        switch problem.code.value {
        case .missing: return "does not exist"
        case .symlink: return "is a symbolic link; refusing to follow it"
        case .wrongType: return "is \(problem.found), not \(problem.wanted)"
        case .tooLarge: return "is larger than \(problem.number) bytes"
        case .owner:
            let me = Platform.effectiveUserID
            let us = me == 0 ? "root" : "root or uid \(me) (the probe's user)"
            return "is owned by uid \(problem.number), not \(us); refusing it (chown root \(path))"
        case .writable:
            let mode = problem.number
            let who = mode & 0o002 != 0 ? "others" : "its group"
            return "is writable by \(who) (mode \(String(mode & 0o7777, radix: 8))); refusing it (chmod go-w \(path))"
        case .hardLinked: return "has \(problem.number) hard links; refusing to read it"
        case .unresolvable: return "cannot be resolved: \(problem.found)"
        case .system: return "cannot be read: \(problem.systemError?.message ?? "unknown error")"
        }
    }

    /// The reason as the tail of "cannot read PATH: ...": the system's message, or "it is a FIFO, ...".
    public var because: String {
        if let e = problem.systemError { return e.message }
        return "it " + reason
    }

    /// `because` when the error is about `path` itself, else naming the path it is about
    /// ("/run/web is a symbolic link; ...").
    public func because(reading path: String) -> String {
        path == self.path ? because : description
    }

    public var description: String { "\(path) \(reason)" }
}

/// What a file must be besides a regular file that is not a symbolic link.
public struct FilePolicy: Sendable, Equatable {
    /// Owned by root or the probe's effective user, and not writable by group or others.
    public var trustedOwner: Bool
    /// Exactly one hard link.
    public var singleLink: Bool

    public init(trustedOwner: Bool = false, singleLink: Bool = false) {
        self.trustedOwner = trustedOwner
        self.singleLink = singleLink
    }

    /// Any owner (an application's state files are written by the application's user).
    public static let anyOwner = FilePolicy()
    /// Root or the probe's own user, not writable by group or others (config, ledger, results).
    public static let trusted = FilePolicy(trustedOwner: true)
}

/// Safe file access for a probe that runs as root among other users (docs/reliability.md,
/// "Files the probe reads"). Every file the probe reads goes through `SafeFile.read`:
///
///   - opened O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC: a FIFO cannot block the open, a symbolic
///     link in the last component is refused (ELOOP), no fd leaks into a child;
///   - fstat of that fd must say a regular file (a FIFO, socket, device or folder is refused
///     before any read, so nothing can hang);
///   - optionally (`FilePolicy.trusted`) owned by root or the probe's own user and not writable
///     by group or others, as sshd's StrictModes and sudo require;
///   - read up to a byte limit; a larger file is refused, never truncated silently.
///
/// `TrustedPath` walks a path component by component (lstat, following each symbolic link by
/// hand) and checks every folder on the way, so a folder another user can write cannot redirect
/// the probe to a file of their choosing. Every refusal is a `FileAccessError` naming the path,
/// what is wrong and how to fix it.
public enum SafeFile {
    static let readFlags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC

    /// Reads the regular file at `path` (its last component must not be a symbolic link; see
    /// `TrustedPath` for checking the folders above it), at most `limit` bytes.
    public static func read(_ path: String, limit: Int, policy: FilePolicy = .anyOwner) throws(FileAccessError) -> [UInt8] {
        try read(directory: AT_FDCWD, name: path, displayPath: path, limit: limit, policy: policy)
    }

    /// The same, for `name` in the folder open as `directory` (an fd from `openDirectory`).
    /// `displayPath` is the path shown in errors.
    public static func read(directory: Int32, name: String, displayPath: String, limit: Int,
                            policy: FilePolicy = .anyOwner) throws(FileAccessError) -> [UInt8] {
        let fd = openat(directory, name, readFlags)
        if fd < 0 { throw openError(Platform.errno, directory: directory, name: name, displayPath: displayPath) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw FileAccessError(displayPath, .system(SystemError("fstat", path: displayPath))) }
        try check(st, path: displayPath, wanted: S_IFREG, policy: policy)
        if Int(st.st_size) > limit { throw FileAccessError(displayPath, .tooLarge(limit: limit)) }
        return try readAll(fd, limit: limit, path: displayPath)
    }

    /// A file that decides what the probe does (config, includes, supervisord.conf, critical_file):
    /// every folder on its path checked by `TrustedPath` (symbolic links followed by hand), then
    /// read with `FilePolicy.trusted`.
    public static func readTrusted(_ path: String, limit: Int) throws(FileAccessError) -> [UInt8] {
        var walker = TrustedPath()
        let real = try walker.resolve(path)
        return try read(real, limit: limit, policy: .trusted)
    }

    /// The same, as UTF-8 text (invalid bytes become U+FFFD).
    static func readText(_ path: String, limit: Int, policy: FilePolicy = .anyOwner) throws(FileAccessError) -> String {
        String(decoding: try read(path, limit: limit, policy: policy), as: UTF8.self)
    }

    /// Opens a folder for `openat`: O_DIRECTORY|O_NOFOLLOW (a symbolic link is refused) unless
    /// `followLinks`. The caller closes the fd.
    public static func openDirectory(_ path: String, followLinks: Bool = false) throws(FileAccessError) -> Int32 {
        try openDirectory(directory: AT_FDCWD, name: path, displayPath: path, followLinks: followLinks)
    }

    public static func openDirectory(directory: Int32, name: String, displayPath: String,
                                     followLinks: Bool = false) throws(FileAccessError) -> Int32 {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK | (followLinks ? 0 : O_NOFOLLOW)
        let fd = openat(directory, name, flags)
        if fd < 0 {
            let e = Platform.errno
            if e == ENOTDIR, let found = typeAt(directory, name, follow: followLinks), found != "a directory" {
                if found == "a symbolic link" { throw FileAccessError(displayPath, .symlink) }
                throw FileAccessError(displayPath, .wrongType(found: found, wanted: "a directory"))
            }
            throw openError(e, directory: directory, name: name, displayPath: displayPath)
        }
        return fd
    }

    /// Checks a stat result: file type (`wanted`: S_IFREG or S_IFDIR) and the policy.
    public static func check(_ st: stat, path: String, wanted: mode_t, policy: FilePolicy) throws(FileAccessError) {
        if st.st_mode & S_IFMT != wanted {
            if st.st_mode & S_IFMT == S_IFLNK { throw FileAccessError(path, .symlink) }
            throw FileAccessError(path, .wrongType(found: typeName(st.st_mode),
                                                   wanted: wanted == S_IFDIR ? "a directory" : "a regular file"))
        }
        if policy.trustedOwner {
            if st.st_uid != 0 && st.st_uid != Platform.effectiveUserID {
                throw FileAccessError(path, .owner(uid: st.st_uid))
            }
            if st.st_mode & 0o022 != 0 { throw FileAccessError(path, .writable(mode: UInt32(st.st_mode))) }
        }
        if policy.singleLink && st.st_nlink > 1 { throw FileAccessError(path, .hardLinked(count: Int(st.st_nlink))) }
    }

    /// "a FIFO", "a directory", "a socket", ... for a st_mode.
    public static func typeName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }

    /// The type of `name` in `directory` (lstat unless `follow`), or nil if it cannot be stat'ed.
    static func typeAt(_ directory: Int32, _ name: String, follow: Bool) -> String? {
        var st = stat()
        guard fstatat(directory, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return typeName(st.st_mode)
    }

    public static func openError(_ e: Int32, directory: Int32, name: String, displayPath: String) -> FileAccessError {
        switch e {
        case ENOENT, ENOTDIR:
            return FileAccessError(displayPath, .missing)
        case ELOOP:
            if typeAt(directory, name, follow: false) == "a symbolic link" { return FileAccessError(displayPath, .symlink) }
            return FileAccessError(displayPath, .unresolvable(Platform.describe(errno: e)))
        default:
            return FileAccessError(displayPath, .system(SystemError("open", path: displayPath, errno: e)))
        }
    }

    /// Reads until end of file; more than `limit` bytes is an error (the file grew after fstat).
    static func readAll(_ fd: Int32, limit: Int, path: String) throws(FileAccessError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: min(limit, 4096) + 1)
        var count = 0
        while true {
            if count == out.count {
                if count > limit { throw FileAccessError(path, .tooLarge(limit: limit)) }
                out.append(contentsOf: repeatElement(0, count: min(out.count, limit + 1 - out.count)))
            }
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                let e = Platform.errno
                if e == EINTR { continue }
                throw FileAccessError(path, .system(SystemError("read", path: path, errno: e)))
            }
            if n == 0 { break }
            count += n
            if count > limit { throw FileAccessError(path, .tooLarge(limit: limit)) }
        }
        out.removeSubrange(count...)
        return out
    }
}

/// Checks that nobody but root and the probe's user can change what a path leads to: every
/// folder on the way (each symbolic link followed by hand, the folders it leads through checked
/// too) must be owned by root or the probe's user and not writable by group or others. A
/// root-owned sticky folder (such as /tmp) is accepted *above* the path's last component:
/// others can add entries there but cannot rename or replace an entry they do not own.
public struct TrustedPath {
    /// Folders already found trustworthy by this walker (a run checks several paths under the same folders).
    private var trusted: [String] = []

    public init() {}

    /// Resolves `path` (relative paths against the working folder) to an absolute path without
    /// symbolic links, checking every folder on the way. When the path itself is a folder, it is
    /// checked too, and there the sticky-bit exception does not apply. The last component, when
    /// it is a file, is not checked here: open it and check its fstat (`SafeFile.check`).
    @discardableResult
    public mutating func resolve(_ path: String) throws(FileAccessError) -> String {
        var pending: [Substring] = []
        var start = path
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard getcwd(&buf, buf.count) != nil else {
                throw FileAccessError(path, .system(SystemError("getcwd")))
            }
            start = String(cString: buf) + "/" + path
        }
        pending = start.split(separator: "/").reversed()
        var current = ""  // "" is the root folder
        try checkFolder("/", last: pending.isEmpty)
        var links = 0
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                if let slash = current.lastIndex(of: "/") { current = String(current[..<slash]) }
                continue
            }
            let next = current + "/" + String(part)  // String + Substring is the generic `+`: a conformance look-up (~0.1M instructions)
            var st = stat()
            if lstat(next, &st) != 0 {
                let e = Platform.errno
                if e == ENOENT || e == ENOTDIR { throw FileAccessError(next, .missing) }
                throw FileAccessError(next, .system(SystemError("lstat", path: next, errno: e)))
            }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                links += 1
                if links > 40 { throw FileAccessError(path, .unresolvable("more than 40 symbolic links")) }
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(next, &buf, buf.count - 1)
                if n < 0 { throw FileAccessError(next, .system(SystemError("readlink", path: next))) }
                let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if target.hasPrefix("/") { current = "" }
                pending.append(contentsOf: target.split(separator: "/").reversed())
            case S_IFDIR:
                try checkFolder(next, st, last: pending.isEmpty)
                current = next
            default:
                if !pending.isEmpty {
                    throw FileAccessError(next, .wrongType(found: SafeFile.typeName(st.st_mode), wanted: "a directory"))
                }
                current = next
            }
        }
        return current.isEmpty ? "/" : current
    }

    private mutating func checkFolder(_ path: String, last: Bool) throws(FileAccessError) {
        var st = stat()
        if stat(path, &st) != 0 { throw FileAccessError(path, .system(SystemError("stat", path: path))) }
        try checkFolder(path, st, last: last)
    }

    private mutating func checkFolder(_ path: String, _ st: stat, last: Bool) throws(FileAccessError) {
        if !last && trusted.contains(path) { return }
        if st.st_uid != 0 && st.st_uid != Platform.effectiveUserID {
            throw FileAccessError(path, .owner(uid: st.st_uid))
        }
        if st.st_mode & 0o022 != 0 {
            let stickyRoot = st.st_mode & S_ISVTX != 0 && st.st_uid == 0
            if last || !stickyRoot { throw FileAccessError(path, .writable(mode: UInt32(st.st_mode))) }
        }
        if !last { trusted.append(path) }
    }
}

extension Platform {
    /// `writeFileAtomically` in the folder open as `directory`: the temporary file is created with
    /// O_EXCL|O_NOFOLLOW there and renamed over `name` with renameat, so nothing follows a
    /// symbolic link planted in place of the folder or the file. `displayPath` names the file in errors.
    public static func writeFileAtomically(
        directory: Int32, name: String, displayPath: String, _ bytes: [UInt8], mode: mode_t = 0o644
    ) throws(SystemError) {
        let suffix = ".tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let tmp = name + suffix
        let fd = openat(directory, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        if fd < 0 { throw SystemError("create", path: displayPath + suffix) }
        var err: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if Platform.errno == EINTR { continue }
                    err = Platform.errno; return
                }
                offset += n
            }
        }
        if err == 0 && fchmod(fd, mode) != 0 { err = Platform.errno }
        if close(fd) != 0 && err == 0 { err = Platform.errno }
        if err != 0 {
            unlinkat(directory, tmp, 0)
            throw SystemError("write", path: displayPath + suffix, errno: err)
        }
        if renameat(directory, tmp, directory, name) != 0 {
            let e = Platform.errno
            unlinkat(directory, tmp, 0)
            throw SystemError("rename", path: displayPath, errno: e)
        }
    }
}

/// Bytes shown on one line: valid UTF-8 is kept, except control characters (`\n`, `\t`, `\r`,
/// else `\xNN`); every byte that is not valid UTF-8 is `\xNN`. File names are bytes (a hook
/// named `caf\xe9` or with a newline in it is shown so, never dropped or split over lines).
public enum ByteText {
    public static func display(_ bytes: some Collection<UInt8>) -> String {
        let array = Array(bytes)
        var out = ""
        var i = 0
        func hex(_ b: UInt8) -> String {
            let digits = Array("0123456789abcdef")
            return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
        }
        while i < array.count {
            let b = array[i]
            if b < 0x80 {
                switch b {
                case 0x0a: out += "\\n"
                case 0x09: out += "\\t"
                case 0x0d: out += "\\r"
                case 0..<0x20, 0x7f: out += hex(b)
                default: out.unicodeScalars.append(Unicode.Scalar(b))
                }
                i += 1
                continue
            }
            // One UTF-8 sequence, validated by decoding just it.
            let length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
            if length > 1, i + length <= array.count {
                var decoder = UTF8()
                var it = array[i..<(i + length)].makeIterator()
                if case .scalarValue(let scalar) = decoder.decode(&it), scalar.utf8.count == length,
                   !(0x80...0x9f).contains(scalar.value) {
                    out.unicodeScalars.append(scalar)
                    i += length
                    continue
                }
            }
            out += hex(b)
            i += 1
        }
        return out
    }

    public static func display(_ text: String) -> String { display(text.utf8) }
}

extension Platform {
    /// The names in the folder open as `directory` (no `.`/`..`), as bytes, sorted bytewise.
    public static func directoryEntries(_ directory: Int32) throws(SystemError) -> [[UInt8]] {
        let dup = fcntl(directory, F_DUPFD_CLOEXEC, 0)
        if dup < 0 { throw SystemError("dup") }
        guard let dir = fdopendir(dup) else {
            let e = Platform.errno
            close(dup)
            throw SystemError("fdopendir", errno: e)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
