// A self-pipe that wakes a poll loop from another thread (or a finished task).
@preconcurrency import Glibc
import CShim

/// Both ends are non-blocking and close-on-exec, and close when the last holder lets go, so a
/// late `wake()` from a thread that outlived the loop never writes into a reused descriptor.
public final class WakePipe: Sendable {
    /// Watch this for POLLIN (-1 when no pipe could be made: then poll with a short timeout).
    public let readFD: Int32
    private let writeFD: Int32

    public init() {
        var fds: [Int32] = [-1, -1]
        if cshim_pipe_cloexec(&fds, 1) != 0 { fds = [-1, -1] }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        if readFD >= 0 { close(readFD) }
        if writeFD >= 0 { close(writeFD) }
    }

    /// Wakes the loop. EAGAIN means the pipe is full, so a wake-up is already pending.
    public func wake() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    /// Empties the pipe (after poll said it is readable).
    public func drain() {
        var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        while withUnsafeMutableBytes(of: &buffer, { read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }
}
