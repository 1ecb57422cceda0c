// An executable opened (and checked) before it is run: the child runs exactly this file, even if
// its path is renamed, replaced or turned into a symbolic link after the check.
@preconcurrency import Glibc
import ProbeSupport

/// An open file descriptor of an executable (O_PATH or O_RDONLY, close-on-exec), owned by this
/// object and closed when it is released. `ProcessSpec.executable` runs it: the child gets it as
/// fd 3 (not close-on-exec, so a `#!` script's interpreter can open it) and posix_spawn executes
/// `/proc/self/fd/3`. A script therefore sees `/proc/self/fd/3` as its `$0` (docs/hooks.md).
public final class ExecutableFile: Sendable, Equatable, CustomStringConvertible {
    /// The descriptor; always >= 10, so that setting up the child's fds 0-3 never meets it.
    public let fd: Int32
    /// The path it was opened from, for messages.
    public let path: String

    /// The fd the child sees the executable as.
    public static let childFD: Int32 = 3

    /// Takes ownership of `fd` (moved to a number >= 10 if needed). Nil if that move fails.
    public init?(adopting fd: Int32, path: String) {
        var owned = fd
        if fd < 10 {
            owned = fcntl(fd, F_DUPFD_CLOEXEC, 10)
            close(fd)
            if owned < 0 { return nil }
        }
        self.fd = owned
        self.path = path
    }

    deinit { close(fd) }

    public static func == (a: ExecutableFile, b: ExecutableFile) -> Bool { a === b }

    public var description: String { "\(path) (fd \(fd))" }
}

extension ExecutableFile {
    /// Why exec would fail for a reason the file's first bytes show, checked without running it
    /// (for `validate`): a `#!` interpreter that does not exist or is not executable, or a file
    /// that is neither a `#!` script nor an ELF binary. Nil when nothing is wrong that way.
    public func contentProblem() -> String? {
        let fd = open("/proc/self/fd/\(self.fd)", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return n == 0 ? Spawner.explain(ENOEXEC, file: "/proc/self/fd/\(self.fd)") : nil }
        let head = buf[0..<n]
        if head.starts(with: [0x7f, 0x45, 0x4c, 0x46]) { return nil }
        guard head.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) else {
            return Spawner.explain(ENOEXEC, file: "/proc/self/fd/\(self.fd)")
        }
        let line = head.dropFirst(2).prefix(while: { $0 != UInt8(ascii: "\n") })
        guard let word = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }).first else {
            return "its #! line names no interpreter"
        }
        let interp = String(decoding: word, as: UTF8.self)
        if access(interp, F_OK) != 0 { return Spawner.explain(ENOENT, file: "/proc/self/fd/\(self.fd)") }
        if access(interp, X_OK) != 0 { return Spawner.explain(EACCES, file: "/proc/self/fd/\(self.fd)") }
        return nil
    }
}
