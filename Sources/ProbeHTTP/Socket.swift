// The socket calls ProbeHTTP needs, kept in one place (the module's libc boundary for sockets).
@preconcurrency import Glibc
import CShim
import ProbeSupport

enum Sock {
    static let streamType = Int32(SOCK_STREAM.rawValue)

    static func setNonBlocking(_ fd: Int32) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0
    }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// poll(2) on one descriptor until `events` or the deadline; returns revents (0 on timeout).
    static func wait(_ fd: Int32, events: Int16, deadline: Deadline) -> Int16 {
        while true {
            var p = pollfd(fd: fd, events: events, revents: 0)
            let timeout = deadline.pollTimeout
            let rc = poll(&p, 1, timeout)
            if rc > 0 { return p.revents }
            if rc == 0 {
                if deadline.hasPassed { return 0 }
                continue
            }
            if cshim_errno() == EINTR { continue }
            return Int16(POLLERR)
        }
    }

    static func socketError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { return cshim_errno() }
        return err
    }

    /// send(2) with MSG_NOSIGNAL; returns bytes sent, or -1 with errno.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
    }

    static func recv(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        Glibc.recv(fd, buffer.baseAddress, buffer.count, 0)
    }

    /// A resolved socket address (IPv4 or IPv6).
    struct Address {
        var family: Int32
        var storage: sockaddr_storage
        var length: socklen_t

        var text: String {
            var host = [CChar](repeating: 0, count: 64)
            var s = storage
            var port: UInt16 = 0
            withUnsafePointer(to: &s) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                    if family == AF_INET {
                        sp.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                            var a = sin.pointee.sin_addr
                            inet_ntop(AF_INET, &a, &host, 64)
                            port = UInt16(bigEndian: sin.pointee.sin_port)
                        }
                    } else {
                        sp.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                            var a = sin6.pointee.sin6_addr
                            inet_ntop(AF_INET6, &a, &host, 64)
                            port = UInt16(bigEndian: sin6.pointee.sin6_port)
                        }
                    }
                }
            }
            let h = host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return family == AF_INET6 ? "[\(h)]:\(port)" : "\(h):\(port)"
        }
    }

    /// getaddrinfo for stream sockets. `host` may be an IPv4/IPv6 literal or a name; nil with
    /// `passive` means the wildcard address. Returns the addresses or a gai error message.
    struct ResolveError: Error { var message: String }

    static func resolve(host: String?, port: UInt16, passive: Bool) -> Result<[Address], ResolveError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = streamType
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        if rc != 0 {
            let why = gai_strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
            return .failure(ResolveError(message: "cannot resolve \(host ?? "*"): \(why)"))
        }
        defer { freeaddrinfo(list) }
        var out: [Address] = []
        var p = list
        while let ai = p {
            if let sa = ai.pointee.ai_addr, ai.pointee.ai_family == AF_INET || ai.pointee.ai_family == AF_INET6 {
                var storage = sockaddr_storage()
                let len = Int(ai.pointee.ai_addrlen)
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: min(len, dst.count)))
                }
                out.append(Address(family: ai.pointee.ai_family, storage: storage, length: ai.pointee.ai_addrlen))
            }
            p = ai.pointee.ai_next
        }
        if out.isEmpty { return .failure(ResolveError(message: "no IPv4 or IPv6 address for \(host ?? "*")")) }
        return .success(out)
    }

    static func connect(_ fd: Int32, _ address: Address) -> Int32 {
        var s = address.storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
        }
    }

    static func bind(_ fd: Int32, _ address: Address) -> Int32 {
        var s = address.storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, address.length) }
        }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        _ = setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The local port a socket is bound to.
    static func localPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { return 0 }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { p in
            if family == sa_family_t(AF_INET) {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
    }
}
