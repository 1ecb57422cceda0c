@preconcurrency import Glibc
import CShim
import ProbeSupport

/// A bound, listening, non-blocking TCP socket: HTTPServer's, and the one of servers outside
/// this module (the gRPC server), with the same address rules and errors.
public enum TCPListener {
    /// Binds and listens on `listen` (`127.0.0.1:8080`, `[::]:0`, `:8080`, `localhost:0`).
    public static func bind(_ listen: String, backlog: Int32 = 128) throws(HTTPServerError)
        -> (fd: Int32, port: UInt16, address: String) {
        let (host, port) = try HTTPServer.parseListenAddress(listen)
        let addresses: [Sock.Address]
        switch Sock.resolve(host: host, port: port, passive: true) {
        case .failure(let e): throw .badListenAddress(listen, reason: e.message)
        case .success(let a): addresses = a
        }
        var lastErrno: Int32 = 0
        var lastAddress = listen
        for address in addresses {
            let s = cshim_socket_cloexec(address.family, Sock.streamType)
            if s < 0 { lastErrno = cshim_errno(); continue }
            Sock.setOption(s, SOL_SOCKET, SO_REUSEADDR, 1)
            if address.family == AF_INET6 { Sock.setOption(s, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
            lastAddress = address.text
            if Sock.bind(s, address) == 0 && Glibc.listen(s, backlog) == 0 && Sock.setNonBlocking(s) {
                let bound = Sock.localPort(s)
                let text = lastAddress.hasSuffix(":0") ? String(lastAddress.dropLast()) + String(bound) : lastAddress
                return (s, bound, text)
            }
            lastErrno = cshim_errno()
            Sock.close(s)
        }
        throw .bindFailed(address: lastAddress, errno: lastErrno)
    }

    /// Sets TCP_NODELAY on an accepted socket.
    public static func setNoDelay(_ fd: Int32) {
        Sock.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }
}
