// The listener's notify socket: a datagram unix socket with SO_PASSCRED, non-blocking, read by
// the listener's one protocol loop between supervisord's events (docs/notify.md). Every fd a
// sender passes (systemd-notify's BARRIER=1) is closed as soon as the datagram is read.
@preconcurrency import Glibc
import CShim
import ProbeSupport

struct NotifyDatagram: Sendable {
    /// The bytes received (at most `NotifySocket.bufferSize`).
    var bytes: ArraySlice<UInt8>
    /// The datagram's full length (larger than `bytes.count` when it was cut).
    var length: Int
    /// The sender's pid and uid from SCM_CREDENTIALS (0 / nil when the kernel gave none).
    var pid: Int
    var uid: UInt32?
    /// File descriptors that came with it (closed already).
    var fds: Int
}

final class NotifySocket {
    static let bufferSize = NotifyMessage.maxBytes + 1
    let address: NotifyAddress
    private(set) var fd: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: NotifySocket.bufferSize)

    init(address: NotifyAddress) { self.address = address }

    deinit { close() }

    struct OpenError: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// Binds the socket. A path that exists is replaced only when it is a socket (a previous
    /// listener's); a regular file, a symlink or anything else there is refused, never followed.
    /// `mode` is applied to a path socket (senders need write permission on it).
    func open(mode: mode_t = 0o666) throws(OpenError) {
        close()
        if !address.isAbstract {
            let path = address.text
            var st = stat()
            if lstat(path, &st) == 0 {
                let kind = st.st_mode & UInt32(S_IFMT)
                guard kind == UInt32(S_IFSOCK) else {
                    let what = kind == UInt32(S_IFLNK) ? "a symlink" : kind == UInt32(S_IFREG) ? "a regular file"
                        : kind == UInt32(S_IFDIR) ? "a folder" : "not a socket"
                    throw OpenError(description: "notify socket path \(path) exists and is \(what); refusing to replace it (remove it, or set [notify] socket)")
                }
                if unlink(path) != 0 && Platform.errno != ENOENT {
                    throw OpenError(description: "cannot remove the stale notify socket \(path): \(Platform.describe(errno: Platform.errno))")
                }
            } else if Platform.errno != ENOENT {
                throw OpenError(description: "cannot inspect notify socket path \(path): \(Platform.describe(errno: Platform.errno))")
            }
        }
        let bytes = address.socketBytes
        let fd = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { cshim_notify_bind($0.baseAddress, $0.count, 1 << 20) }
        }
        if fd < 0 {
            throw OpenError(description: "cannot create the notify socket \(address): \(Platform.describe(errno: Platform.errno))")
        }
        self.fd = fd
        if !address.isAbstract && chmod(address.text, mode) != 0 {
            let e = Platform.errno
            close()
            throw OpenError(description: "cannot set the mode of the notify socket \(address): \(Platform.describe(errno: e))")
        }
    }

    /// Closes the socket and removes its path (abstract addresses vanish with the fd).
    func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
        if !address.isAbstract {
            var st = stat()
            if lstat(address.text, &st) == 0 && st.st_mode & UInt32(S_IFMT) == UInt32(S_IFSOCK) { unlink(address.text) }
        }
    }

    /// One queued datagram, or nil when none is queued (never blocks).
    func receive() -> NotifyDatagram? {
        guard fd >= 0 else { return nil }
        var pid: Int32 = 0, uid: UInt32 = 0, fds: Int32 = 0, ctrunc: Int32 = 0
        let n = buffer.withUnsafeMutableBufferPointer { b in
            cshim_notify_recv(fd, b.baseAddress, b.count, &pid, &uid, &fds, &ctrunc)
        }
        if n < 0 { return nil }
        let got = min(Int(n), buffer.count)
        return NotifyDatagram(bytes: buffer[0..<got], length: Int(n), pid: Int(pid), uid: uid == UInt32.max ? nil : uid,
                              fds: Int(fds))
    }

    /// Sends one datagram to `address` from a fresh socket, optionally passing `fd` (SCM_RIGHTS).
    static func send(_ bytes: [UInt8], to address: NotifyAddress, passing fd: Int32 = -1) throws(SystemError) {
        let addr = address.socketBytes
        let rc = addr.withUnsafeBufferPointer { a in
            a.withMemoryRebound(to: CChar.self) { ap in
                bytes.withUnsafeBufferPointer { b in cshim_notify_send(ap.baseAddress, ap.count, b.baseAddress, b.count, 0, fd) }
            }
        }
        if rc != 0 { throw SystemError("send to \(address)") }
    }

    /// sd_notify with a barrier, as systemd-notify does: the message, then `BARRIER=1` carrying one
    /// end of a pipe; waits (up to `timeout`) until the receiver has closed it, so the message has
    /// been read while this process (its credentials) still exists. Returns false when the
    /// receiver did not close it in time (the message itself was sent).
    static func sendWithBarrier(_ bytes: [UInt8], to address: NotifyAddress, timeout: Duration) throws(SystemError) -> Bool {
        try send(bytes, to: address)
        var fds: [Int32] = [-1, -1]
        if cshim_pipe_cloexec(&fds, 0) != 0 { throw SystemError("pipe") }
        defer { Glibc.close(fds[0]) }
        do {
            try send(Array("BARRIER=1".utf8), to: address, passing: fds[1])
        } catch {
            Glibc.close(fds[1])
            throw error
        }
        Glibc.close(fds[1])
        // The read end sees POLLHUP once every copy of the write end (the receiver's) is closed.
        let deadline = Deadline.after(timeout)
        var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&p, 1, deadline.pollTimeout)
            if r < 0 && Platform.errno == EINTR { continue }
            if r > 0 { return true }
            return false
        }
    }
}

/// The parent chain of a process, read from /proc/PID/stat.
enum ProcessTree {
    /// The parent pid of `pid`, or nil when it is gone or unreadable.
    static func parent(of pid: Int) -> Int? {
        guard pid > 0, let bytes = try? Platform.readFile("/proc/\(pid)/stat", limit: 4096),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After "pid (comm)": " S PPID ..."
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "), maxSplits: 3)
        guard fields.count >= 2 else { return nil }
        return Int(String(decoding: fields[1], as: UTF8.self))
    }

    /// `pid` and its ancestors, nearest first, up to (not including) `stop`, pid 1 or pid 0;
    /// at most `limit` entries. `reachedStop` is true when the walk ended at `stop`.
    static func ancestors(of pid: Int, stop: Int?, limit: Int = 32) -> (chain: [Int], reachedStop: Bool) {
        var chain: [Int] = []
        var p = pid
        while p > 1 && chain.count < limit {
            if let stop, p == stop { return (chain, true) }
            chain.append(p)
            guard let parent = parent(of: p) else { return (chain, false) }
            p = parent
        }
        return (chain, stop.map { p == $0 } ?? false)
    }

    /// The uid owning /proc/PID (the process's real owner), or nil when it is gone.
    static func owner(of pid: Int) -> UInt32? {
        guard pid > 0 else { return nil }
        var st = stat()
        guard stat("/proc/\(pid)", &st) == 0 else { return nil }
        return st.st_uid
    }
}
