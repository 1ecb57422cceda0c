// The listener side of supervisord's event protocol, over two file descriptors:
// write `READY\n`; read one envelope (header line + `len` code points of payload);
// answer `RESULT 2\nOK`; repeat. stdout carries nothing else. read(2)/write(2) only,
// no buffered stdio.
//
// Every event is answered OK, including duplicates and malformed ones: a FAIL makes
// supervisord redeliver the same bytes, which would fail again forever.
// A malformed header is logged, and the envelope is skipped: when the header still has a
// `len:N` token, exactly N code points after its newline; otherwise every byte that arrives
// until the pipe is quiet for 100 ms (at most 2 s). Then the answer keeps the cycle in step.
@preconcurrency import Glibc
import ProbeSupport
import SupervisorKit

struct ListenerProtocol {
    let input: Int32
    let output: Int32
    var log: (String) -> Void
    static let ready: [UInt8] = Array("READY\n".utf8)
    static let ok: [UInt8] = Array("RESULT 2\nOK".utf8)
    static let okReady: [UInt8] = ok + ready

    enum End: Equatable, Sendable {
        /// stdin reached end of file: supervisord closed it (clean exit).
        case endOfInput
        case readFailed(String)
        case writeFailed(String)
    }

    /// A second input served by the same loop while it waits for supervisord (the notify
    /// socket): `service` runs when `fd` is readable, or when `timeout()` ms have passed
    /// (-1: no timeout). When both are readable, one bounded batch of the side channel goes
    /// first and then stdin: what was queued there before the event is read before it (a
    /// program's STOPPING=1 is sent before it exits, so before supervisord's event about the
    /// exit; read after it, the sender is no program any more), and the side channel still
    /// cannot starve the protocol.
    struct SideChannel {
        var fd: Int32
        var service: () -> Void
        var timeout: () -> Int32
        init(fd: Int32, service: @escaping () -> Void, timeout: @escaping () -> Int32) {
            self.fd = fd
            self.service = service
            self.timeout = timeout
        }
    }
    var side: SideChannel? = nil

    init(input: Int32 = 0, output: Int32 = 1, log: @escaping (String) -> Void) {
        self.input = input
        self.output = output
        self.log = log
    }

    /// Waits until stdin is readable, serving the side channel meanwhile.
    func waitForInput() {
        guard let side else { return }
        var fds = [pollfd(fd: input, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: side.fd, events: Int16(POLLIN), revents: 0)]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let r = poll(&fds, 2, side.timeout())
            if r < 0 && Platform.errno == EINTR { continue }
            if r < 0 { return }  // let read(2) report it
            if fds[0].revents != 0 {
                if fds[1].revents != 0 { side.service() }
                return
            }
            side.service()
        }
    }

    /// Runs the cycle until end of input or an I/O error. `handle` gets each well-formed event
    /// and may return work to run after the result is written and before the next READY
    /// (supervisord holds further events meanwhile, so nothing is lost).
    func run(_ handle: (SupervisorEvent) -> (() -> Void)?) -> End {
        var decoder = EventStreamDecoder()
        var raw: [UInt8] = []          // bytes not yet part of an answered event (for resync)
        var rawStart = 0
        var consumed = 0               // decoder.consumedByteCount at the last event
        var chunk = [UInt8](repeating: 0, count: 65536)
        guard Platform.writeAll(output, ListenerProtocol.ready) else { return .writeFailed("cannot write READY: \(Platform.describe(errno: Platform.errno))") }
        while true {
            let event: SupervisorEvent?
            do {
                event = try decoder.next()
            } catch {
                log("error: \(error); skipping this envelope and answering OK to stay in step")
                let end = skipMalformed(&raw, from: rawStart, chunk: &chunk)
                rawStart = end.index
                decoder = EventStreamDecoder()
                decoder.feed(raw[rawStart...])
                consumed = 0
                guard Platform.writeAll(output, ListenerProtocol.okReady) else {
                    return .writeFailed("cannot write the result: \(Platform.describe(errno: Platform.errno))")
                }
                if let stop = end.stop { return stop }
                continue
            }
            guard let event else {
                waitForInput()
                let n: Int
                do { n = try Platform.readSome(input, into: &chunk) } catch { return .readFailed(error.description) }
                if n == 0 {
                    if decoder.bufferedByteCount > 0 {
                        log("warn: stdin closed inside an event (\(decoder.bufferedByteCount) bytes of it were read)")
                    }
                    return .endOfInput
                }
                if rawStart > 0 {
                    raw.removeFirst(rawStart)
                    rawStart = 0
                }
                raw.append(contentsOf: chunk[0..<n])
                decoder.feed(chunk[0..<n])
                continue
            }
            rawStart += decoder.consumedByteCount - consumed
            consumed = decoder.consumedByteCount
            if let after = handle(event) {
                guard Platform.writeAll(output, ListenerProtocol.ok) else {
                    return .writeFailed("cannot write the result: \(Platform.describe(errno: Platform.errno))")
                }
                after()
                guard Platform.writeAll(output, ListenerProtocol.ready) else {
                    return .writeFailed("cannot write READY: \(Platform.describe(errno: Platform.errno))")
                }
            } else {
                guard Platform.writeAll(output, ListenerProtocol.okReady) else {
                    return .writeFailed("cannot write the result: \(Platform.describe(errno: Platform.errno))")
                }
            }
        }
    }

    /// Finds where the malformed envelope starting at `raw[from]` ends, reading more input if
    /// needed. Returns the index after it (bytes after it belong to the next envelope), and an
    /// end of the loop if the input ended or failed meanwhile.
    func skipMalformed(_ raw: inout [UInt8], from: Int, chunk: inout [UInt8]) -> (index: Int, stop: End?) {
        let deadline = Deadline.after(.seconds(2))
        // The header's own len:, if it has one, measured with a fresh decoder behind a clean header.
        var payloadStart: Int? = nil
        var length: Int? = nil
        if let nl = raw[from...].firstIndex(of: 0x0A) {
            payloadStart = nl + 1
            let line = String(decoding: raw[from..<nl], as: UTF8.self)
            for token in line.split(separator: " ") where token.hasPrefix("len:") {
                if let n = Int(token.dropFirst(4)), n >= 0, n <= 1 << 20 { length = n }
            }
        }
        func readMore(waitMs: Int32) -> (got: Bool, stop: End?) {
            guard Platform.waitReadable(input, milliseconds: waitMs) else { return (false, nil) }
            let n: Int
            do { n = try Platform.readSome(input, into: &chunk) } catch { return (false, .readFailed(error.description)) }
            if n == 0 { return (false, .endOfInput) }
            raw.append(contentsOf: chunk[0..<n])
            return (true, nil)
        }
        if let payloadStart, let length {
            let clean = Array("ver:3.0 server:supervisor serial:0 pool:resync poolserial:0 eventname:RESYNC len:\(length)\n".utf8)
            while true {
                var probe = EventStreamDecoder()
                probe.feed(clean)
                probe.feed(raw[payloadStart...])
                if let e = try? probe.next() {
                    return (payloadStart + e.payloadBytes.count, nil)
                }
                let remaining = deadline.pollTimeout
                if remaining == 0 { break }
                let r = readMore(waitMs: remaining)
                if let stop = r.stop { return (raw.count, stop) }
                if !r.got { break }
            }
            log("warn: the malformed envelope's payload did not arrive in full; dropping \(raw.count - from) bytes")
            return (raw.count, nil)
        }
        // No usable len: drop what is there and whatever arrives until the pipe is quiet.
        while !deadline.hasPassed {
            let r = readMore(waitMs: min(100, deadline.pollTimeout))
            if let stop = r.stop { return (raw.count, stop) }
            if !r.got { break }
        }
        return (raw.count, nil)
    }
}

/// The serials seen recently, to drop redeliveries and cross-pool duplicates. Bounded: it
/// remembers the last `capacity` serials.
struct SerialWindow: Sendable {
    let capacity: Int
    private var ring: [Int]
    private var next = 0
    private var seen: Set<Int>

    init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
        ring = Array(repeating: -1, count: self.capacity)
        seen = Set(minimumCapacity: self.capacity)
    }

    /// Records `serial`; returns false when it was already seen (a duplicate).
    mutating func insert(_ serial: Int) -> Bool {
        if seen.contains(serial) { return false }
        let old = ring[next]
        if old >= 0 { seen.remove(old) }
        ring[next] = serial
        seen.insert(serial)
        next = (next + 1) % capacity
        return true
    }
}
