// Tiny scripted servers for client tests: a unix listening socket and one thread per scenario.
@preconcurrency import Glibc
import CShim
import ProbeSupport
import ProbeTestSupport

final class ThreadBox: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Starts a joinable thread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let box = Unmanaged.passRetained(ThreadBox(body)).toOpaque()
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { raw in
        let box = Unmanaged<ThreadBox>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create failed")
    return tid
}

func joinThread(_ t: pthread_t) { pthread_join(t, nil) }

/// A unix-socket listener whose single accepted connection is handed to `script`.
final class ScriptedUnixServer: @unchecked Sendable {
    let path: String
    let listenFD: Int32
    private var thread: pthread_t?

    init(path: String, script: @escaping @Sendable (Int32) -> Void) {
        self.path = path
        listenFD = cshim_socket_cloexec(AF_UNIX, Int32(SOCK_STREAM.rawValue))
        precondition(listenFD >= 0)
        precondition(cshim_bind_unix(listenFD, path) == 0, "bind \(path)")
        precondition(listen(listenFD, 16) == 0)
        let fd = listenFD
        thread = startThread {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            script(c)
            close(c)
        }
    }

    func finish() {
        if let thread { joinThread(thread) }
        thread = nil
        close(listenFD)
        unlink(path)
    }
}

enum Raw {
    /// Reads until a blank line ends the request head, then `Content-Length` body bytes.
    static func readRequest(_ fd: Int32, timeoutMs: Int32 = 5000) -> [UInt8] {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = find(data, Array("\r\n\r\n".utf8)) {
                let head = String(decoding: data[..<end], as: UTF8.self).lowercased()
                var length = 0
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingCharacters()) ?? 0
                }
                if data.count >= end + 4 + length { return data }
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, timeoutMs) <= 0 { return data }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return data }
            data += buf[0..<n]
        }
    }

    static func write(_ fd: Int32, _ s: String) { _ = write(fd, Array(s.utf8)) }

    @discardableResult
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }

    /// Waits until the peer closes (or `timeoutMs`).
    static func waitForClose(_ fd: Int32, timeoutMs: Int32) {
        let deadline = Deadline.after(.milliseconds(Int64(timeoutMs)))
        var buf = [UInt8](repeating: 0, count: 4096)
        while !deadline.hasPassed {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, deadline.pollTimeout) <= 0 { return }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
        }
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// Open descriptors of this process (from /proc/self/fd).
func openDescriptorCount() -> Int {
    ((try? Platform.listDirectory("/proc/self/fd")) ?? nil)?.count ?? -1
}
