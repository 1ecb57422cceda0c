@preconcurrency import Glibc
import CShim

/// A failed system call, with the operation, the path (if any) and errno.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public var operation: String
    public var path: String?
    public var errno: Int32

    public init(_ operation: String, path: String? = nil, errno: Int32 = Platform.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var message: String { Platform.describe(errno: errno) }

    public var description: String {
        if let path { return "\(operation) \(path): \(message)" }
        return "\(operation): \(message)"
    }
}

/// Platform: the one namespace through which the project touches libc.
/// Everything else calls these functions; they turn errno into `SystemError`.
public enum Platform {
    // MARK: errno and environment

    public static var errno: Int32 { cshim_errno() }

    public static func describe(errno: Int32) -> String {
        guard let s = strerror(errno) else { return "errno \(errno)" }
        return String(cString: s)
    }

    public static func environment(_ name: String) -> String? {
        guard let v = getenv(name) else { return nil }
        return String(cString: v)
    }

    public static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        return String(cString: buf)
    }

    public static var processID: Int32 { getpid() }
    public static var parentProcessID: Int32 { getppid() }
    static var userID: UInt32 { getuid() }
    public static var effectiveUserID: UInt32 { geteuid() }

    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Seconds since the Unix epoch (wall clock), for timestamps in output files.
    public static func epochSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    // MARK: output

    /// Writes all bytes to fd, retrying on EINTR and short writes. Errors are ignored
    /// (a closed stdout must not crash the probe).
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) -> Bool {
        var array = Array(bytes)
        var offset = 0
        return array.withUnsafeMutableBytes { raw -> Bool in
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if cshim_errno() == EINTR { continue }
                    if cshim_errno() == EAGAIN {
                        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&p, 1, 1000)
                        continue
                    }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// One read(2) into `buffer` (up to its count), retrying on EINTR. Returns the number of
    /// bytes read; 0 means end of file.
    public static func readSome(_ fd: Int32, into buffer: inout [UInt8]) throws(SystemError) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n >= 0 { return n }
            if cshim_errno() == EINTR { continue }
            throw SystemError("read fd \(fd)")
        }
    }

    /// Waits up to `milliseconds` for `fd` to be readable (or at end of file / hung up).
    public static func waitReadable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&p, 1, milliseconds)
            if r < 0 && cshim_errno() == EINTR { continue }
            return r > 0
        }
    }

    public static func writeStdout(_ s: String) { writeAll(1, Array(s.utf8)) }
    public static func writeStderr(_ s: String) { writeAll(2, Array(s.utf8)) }

    /// Makes sure fds 0, 1 and 2 are open (a probe started with them closed must not
    /// write its output into a socket or file it opens later).
    public static func ensureStandardDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 {
            let n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if n >= 0 && n != fd {
                dup2(n, fd)
                close(n)
            }
        }
    }

    public static func ignoreSIGPIPE() { cshim_ignore_sigpipe() }

    // MARK: files

    /// What `stat` says about a file: type, mode, owner, size.
    public struct FileInfo: Sendable {
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        public var size: Int
        public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
        public var isRegular: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
        public var isSocket: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFSOCK) }
        public var permissions: UInt32 { mode & 0o7777 }
    }

    /// stat(2) that follows links; nil when the path does not exist.
    public static func fileInfo(_ path: String) throws(SystemError) -> FileInfo? {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError("stat", path: path)
        }
        return FileInfo(mode: st.st_mode, uid: st.st_uid, gid: st.st_gid, size: Int(st.st_size))
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
    public static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    /// Reads a whole file, refusing files larger than `limit` bytes.
    public static func readFile(_ path: String, limit: Int = 1 << 20) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", path: path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path: path)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw SystemError("read", path: path, errno: EFBIG) }
        }
        return out
    }

    public static func readTextFile(_ path: String, limit: Int = 1 << 20) throws(SystemError) -> String {
        String(decoding: try readFile(path, limit: limit), as: UTF8.self)
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync'd
    /// if asked, then rename(2). Readers see the old or the new content, never a part.
    public static func writeFileAtomically(
        _ path: String, _ bytes: some Collection<UInt8>, mode: mode_t = 0o644, sync: Bool = false
    ) throws(SystemError) {
        let tmp = "\(path).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd < 0 { throw SystemError("create", path: tmp) }
        var ok = true
        var err: Int32 = 0
        var array = Array(bytes)
        array.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false; err = errno; return
                }
                offset += n
            }
        }
        if ok && sync && fsync(fd) != 0 { ok = false; err = errno }
        if ok { fchmod(fd, mode) }
        if close(fd) != 0 && ok { ok = false; err = errno }
        if !ok {
            unlink(tmp)
            throw SystemError("write", path: tmp, errno: err)
        }
        if rename(tmp, path) != 0 {
            let e = errno
            unlink(tmp)
            throw SystemError("rename", path: path, errno: e)
        }
    }

    /// mkdir -p with the given mode for created folders.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if path.isEmpty { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 {
                let e = errno
                if e == EEXIST {
                    if let info = try fileInfo(current), info.isDirectory { continue }
                    throw SystemError("mkdir", path: current, errno: ENOTDIR)
                }
                throw SystemError("mkdir", path: current, errno: e)
            }
        }
    }

    /// chmod(2): sets exactly `mode` (the umask does not apply).
    public static func changeMode(_ path: String, _ mode: mode_t) throws(SystemError) {
        if chmod(path, mode) != 0 { throw SystemError("chmod", path: path) }
    }

    public static func removeFile(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink", path: path) }
    }

    /// Names in a folder (no `.`/`..`), sorted bytewise; nil if the folder does not exist.
    public static func listDirectory(_ path: String) throws(SystemError) -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError("opendir", path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// glob(3) with sorted results; a pattern that matches nothing yields [].
    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out
    }

    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    public static func processExists(_ pid: Int32) -> Bool {
        pid > 0 && access("/proc/\(pid)", F_OK) == 0
    }

    static func userName(_ uid: UInt32) -> String {
        "uid \(uid)"
    }

    // MARK: signals and time

    public static func sendSignal(_ pid: Int32, _ signal: Int32) throws(SystemError) {
        if kill(pid, signal) != 0 { throw SystemError("kill \(pid)") }
    }

    public static func sleep(milliseconds: Int) {
        var ts = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var rest = timespec()
        while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
    }
}

// MARK: signals delivered to a waiting thread

extension Platform {
    /// Blocks `signals` in the calling thread; threads it creates later inherit the mask.
    /// Call before any other thread starts, then receive the signals with `waitForSignal`.
    public static func blockSignals(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits (blocking the calling thread) until one of `signals`, which must be blocked, is pending;
    /// returns its number.
    public static func waitForSignal(_ signals: [Int32]) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }
}
