// The fuzz bodies, one per hand-written parser. Each takes arbitrary bytes, must not crash, hang or
// grow without bound, and checks the properties noted on it; a broken property aborts, which libFuzzer
// records as a crash with the input that caused it.
//
// This file is also compiled into the root package's ReadinessProbeTests (through the symlink
// Tests/ReadinessProbeTests/FuzzTargets.swift), where CorpusSmokeTests runs every seed and a few thousand
// mutations through the same bodies on each `swift test`. Keep it free of libFuzzer symbols (see Driver.swift).
import Glibc
@testable import ProbeHTTP
@testable import ProbeHTTP2
import ProbeState
import ProbeSupport
@testable import ReadinessProbe
import SupervisorKit

/// One fuzz input: the raw bytes, and helpers to cut them into the shapes the parsers take.
public struct FuzzInput {
    public let bytes: [UInt8]

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    }

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The bytes as text (invalid UTF-8 becomes U+FFFD, as when the programs read a file or pipe).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The bytes cut at NUL: argv lists, and several fields packed into one input.
    public var nulSeparated: [String] {
        bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Stops the process with a message; libFuzzer keeps the input that got here.
fileprivate func violated(_ property: String, _ detail: @autoclosure () -> String = "") -> Never {
    let line = "fuzz property violated: \(property)" + (detail().isEmpty ? "" : ": \(detail())") + "\n"
    Platform.writeStderr(line)
    abort()
}

fileprivate func require(_ condition: Bool, _ property: String, _ detail: @autoclosure () -> String = "") {
    if !condition { violated(property, detail()) }
}

public enum FuzzTargets {
    /// Every target by its name (the corpus folder and the `fuzz-NAME` executable).
    public static let all: [(name: String, body: @Sendable (FuzzInput) -> Void)] = [
        ("xmlrpc", xmlrpc), ("http-response", httpResponse), ("http-request", httpRequest), ("status", status),
        ("events", events), ("ini", ini), ("state", state), ("duration", duration), ("args", args), ("json", json),
        ("h2-frames", h2Frames), ("hpack", hpack), ("protobuf", protobuf),
        ("notify", notify),
    ]

    // MARK: 1. XML-RPC

    /// `XMLRPC.parseResponse`, then `SupervisorProcess.list(fromProcessInfo:)` on the value.
    /// Property: a parsed value re-encoded by `XMLRPC.encodeCall` parses back to the same value.
    public static func xmlrpc(_ input: FuzzInput) {
        let response: XMLRPCResponse
        do { response = try XMLRPC.parseResponse(input.bytes) } catch { return }
        guard case .value(let value) = response else { return }
        _ = try? SupervisorProcess.list(fromProcessInfo: value)
        _ = try? SupervisorProcess(processInfo: value)
        _ = value.description
        if !containsNaN(value) {
            let call = XMLRPC.encodeCall(method: "fuzz", params: [value])
            let open = Array("<param>\n".utf8), close = Array("\n</param>".utf8)
            guard let from = firstRange(of: open, in: call)?.upperBound,
                  let to = lastRange(of: close, in: call)?.lowerBound else {
                violated("encodeCall wraps its parameter in <param>")
            }
            do {
                let again = try XMLRPC.parseValue(call[from..<to])
                require(again == value, "XML-RPC value round trip", "\(value) became \(again)")
            } catch {
                violated("XML-RPC value round trip", "\(value) re-encoded does not parse: \(error)")
            }
        }
    }

    static func containsNaN(_ v: XMLRPCValue) -> Bool {
        switch v {
        case .double(let d): d.isNaN
        case .array(let a): a.contains(where: containsNaN)
        case .struct(let s): s.values.contains(where: containsNaN)
        default: false
        }
    }

    // MARK: 2. HTTP responses (client side)

    /// `HTTPResponseParser.parse`. The first byte picks the limits and `atEOF`.
    /// Properties: `consumed` stays within the input; a complete response stays complete, with the same
    /// length, when more bytes follow it; strict prefixes of a complete response are `needMore`.
    public static func httpResponse(_ input: FuzzInput) {
        guard let control = input.bytes.first else { return }
        let bytes = Array(input.bytes.dropFirst())
        let atEOF = control & 1 == 1
        let method = control & 2 == 2 ? "HEAD" : "GET"
        let maxHeader = control & 4 == 4 ? 64 : 64 << 10
        let maxBody = control & 8 == 8 ? 16 : 4 << 20
        let result = HTTPResponseParser.parse(bytes, maxHeaderBytes: maxHeader, maxBodyBytes: maxBody,
                                              atEOF: atEOF, requestMethod: method)
        guard case .complete(let response, let consumed) = result else { return }
        require(consumed > 0 && consumed <= bytes.count, "response consumed within input", "\(consumed) of \(bytes.count)")
        _ = response.description
        _ = response.bodyText
        if !atEOF {
            // Pipelined garbage after a complete, length-delimited reply must not change it.
            let more = HTTPResponseParser.parse(bytes + Array("HTTP/1.1 200 OK\r\n".utf8), maxHeaderBytes: maxHeader,
                                                maxBodyBytes: maxBody, atEOF: false, requestMethod: method)
            guard case .complete(let r2, let c2) = more, c2 == consumed, r2.body == response.body else {
                violated("a complete reply stays the same when more bytes follow", "\(more)")
            }
            // Replies arrive in pieces: every strict prefix of a complete reply must ask for more.
            for cut in cutPoints(consumed, control) {
                let state = HTTPResponseParser.parse(Array(bytes[..<cut]), maxHeaderBytes: maxHeader,
                                                     maxBodyBytes: maxBody, atEOF: false, requestMethod: method)
                guard case .needMore = state else { violated("a prefix of a complete reply needs more", "cut \(cut): \(state)") }
            }
        }
    }

    /// A few strict-prefix lengths of a `count`-byte message: the last byte, the middle, and one picked by `pick`.
    static func cutPoints(_ count: Int, _ pick: UInt8) -> [Int] {
        guard count > 1 else { return count == 1 ? [0] : [] }
        return [count - 1, count / 2, Int(pick >> 4) * (count - 1) / 15]
    }

    // MARK: 3. HTTP requests (server side)

    /// `HTTPRequestParser.parse`, plus `HTTPCodec.percentDecode` and `queryItems` on the whole input.
    /// Properties: `consumed` within input; strict prefixes of a complete request are `needMore`;
    /// a parsed query matches `HTTPCodec.queryItems(rawQuery)`;
    /// percent-decoding a string without `%` and `+` is the identity (for valid UTF-8).
    public static func httpRequest(_ input: FuzzInput) {
        switch HTTPRequestParser.parse(input.bytes) {
        case .complete(let request, let consumed):
            require(consumed > 0 && consumed <= input.bytes.count, "request consumed within input")
            _ = request.description
            // Requests arrive in pieces: every strict prefix of a complete request must ask for more.
            for cut in cutPoints(consumed, input.bytes[consumed - 1]) {
                let state = HTTPRequestParser.parse(Array(input.bytes[..<cut]))
                guard case .needMore = state else { violated("a prefix of a complete request needs more", "cut \(cut): \(state)") }
            }
            if let items = HTTPCodec.queryItems(request.rawQuery) {
                require(items.map(\.name) == request.queryItems.map(\.name)
                        && items.map(\.value) == request.queryItems.map(\.value),
                        "request query items are HTTPCodec.queryItems(rawQuery)")
            }
        case .needMore, .error: break
        }
        let text = input.text
        let plain = HTTPCodec.percentDecode(text)
        let query = HTTPCodec.percentDecode(text, plusIsSpace: true)
        if !text.utf8.contains(UInt8(ascii: "%")) && !text.utf8.contains(0) && String(validating: input.bytes, as: UTF8.self) != nil {
            require(plain == text, "percentDecode without escapes is the identity")
            if !text.contains("+") { require(query == text, "query decoding without escapes is the identity") }
        }
        _ = HTTPCodec.queryItems(text)
    }

    // MARK: 4. supervisorctl status

    /// `SupervisorctlStatus.parse`. Property: one result per non-empty line, at most `maxLines`.
    public static func status(_ input: FuzzInput) {
        let lines = SupervisorctlStatus.parse(input.text)
        require(lines.count <= SupervisorctlStatus.maxLines, "status line count bounded")
        for line in lines {
            if case .process(let p) = line { _ = p.name }
        }
        if let first = input.text.split(separator: "\n").first {
            _ = SupervisorctlStatus.parseLine(String(first))
            _ = SupervisorctlStatus.classifyError(String(first))
        }
    }

    // MARK: 5. Event listener framing

    /// `EventStreamDecoder` fed whole and in chunks whose sizes come from the first bytes; both must give
    /// the same events and the same error (a differential property), and `EventHeader.parse` /
    /// `EventPayload.parse` on each event (and on the raw input).
    public static func events(_ input: FuzzInput) {
        guard input.bytes.count >= 2 else { return }
        let cuts = Int(input.bytes[0] % 8) + 1
        let seed = Int(input.bytes[1])
        let stream = Array(input.bytes.dropFirst(2))
        let maxPayload = seed & 1 == 1 ? 64 : 1 << 20

        let whole = drain(chunks: [stream[...]], maxPayload: maxPayload)
        // Chunk sizes derived from the seed: 1, 2, 3... up to `cuts` times, then the rest.
        var chunks: [ArraySlice<UInt8>] = []
        var at = 0
        var size = seed % 7 + 1
        while at < stream.count {
            let end = chunks.count < cuts * 64 ? min(stream.count, at + size) : stream.count
            chunks.append(stream[at..<end])
            at = end
            size = (size * 5 + 3) % 97 + 1
        }
        let split = drain(chunks: chunks, maxPayload: maxPayload)
        require(whole.events == split.events, "events decoded whole and split are equal",
                "\(whole.events.count) vs \(split.events.count)")
        require(whole.error == split.error, "errors decoded whole and split are equal",
                "\(String(describing: whole.error)) vs \(String(describing: split.error))")
        var end = 0
        for e in whole.events {
            require(e.offset >= end, "event offsets increase")
            // `len` counts characters (UTF-8 sequences; a stray byte counts as one).
            require(e.payloadBytes.count >= e.header.length && e.payloadBytes.count <= 4 * e.header.length,
                    "payload bytes fit the header's character length", "\(e.payloadBytes.count) bytes for len \(e.header.length)")
            end = e.offset + e.payloadBytes.count
            _ = try? e.parsedPayload()
        }
        let text = String(decoding: stream, as: UTF8.self)
        _ = try? EventHeader.parse(text)
        _ = try? EventPayload.parse(text)
    }

    static func drain(chunks: [ArraySlice<UInt8>], maxPayload: Int) -> (events: [SupervisorEvent], error: EventParseError?) {
        var decoder = EventStreamDecoder(maxPayloadLength: maxPayload)
        var events: [SupervisorEvent] = []
        do {
            for chunk in chunks {
                decoder.feed(chunk)
                while let e = try decoder.next() { events.append(e) }
            }
            try decoder.finish()
            return (events, nil)
        } catch {
            return (events, error)
        }
    }

    // MARK: 6. INI and the configuration built from it

    /// `INI.parse` both strict and lenient, then `ProbeConfiguration.build` on the document.
    /// Property: every entry's line number is within the text.
    public static func ini(_ input: FuzzInput) {
        let text = input.text
        let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
        _ = try? INI.parse(text, file: "fuzz.conf", strictDuplicates: false)
        guard let sections = try? INI.parse(text, file: "fuzz.conf", strictDuplicates: true) else { return }
        for s in sections {
            require(s.location.line >= 1 && s.location.line <= lineCount, "section line within text")
            for e in s.entries { require(e.location.line >= 1 && e.location.line <= lineCount, "entry line within text") }
        }
        var doc = INIDocument()
        doc.sections = sections
        doc.files = ["fuzz.conf"]
        _ = try? ProbeConfiguration.build(document: doc, configFile: "fuzz.conf", environment: [:])
    }

    // MARK: 7. Application state files

    /// `StateFormat.parsePID` / `parseError` and the health rule over a pid and an error file
    /// (the input cut at the first NUL). Properties: a parsed pid is positive and prints back as its text
    /// (canonical form), a parsed error code likewise.
    public static func state(_ input: FuzzInput) {
        let parts = input.nulSeparated
        let pidText = parts[0]
        let errorText = parts.count > 1 ? parts[1...].joined(separator: "\0") : ""
        for t in [pidText, errorText] {
            if let pid = StateFormat.parsePID(t) {
                require(pid > 0, "pid positive")
                require("\(pid)" == StateFormat.strippingNewline(t), "pid canonical", t)
            }
            if let code = StateFormat.parseError(t) {
                require("\(code)" == StateFormat.strippingNewline(t), "error code canonical", t)
            }
            _ = StateFormat.quoted(Substring(t))
        }
        let snapshot = AppStateSnapshot(unit: "fuzz", directory: "/nonexistent/fuzz",
                                        pidFile: parts.count > 2 ? .missing : .text(pidText),
                                        errorFile: .text(errorText))
        let health = AppHealth(snapshot)
        _ = JSON.serialize(health.jsonValue)
    }

    // MARK: 8. Durations

    /// `DurationText.parse`. Properties: a result is within 0...24h, and formatting it parses back to it.
    public static func duration(_ input: FuzzInput) {
        guard let d = try? DurationText.parse(input.text) else { return }
        require(d >= .zero && d <= DurationText.maximum, "duration within 0...24h", "\(d)")
        let text = DurationText.format(d)
        guard let again = try? DurationText.parse(text) else { violated("formatted duration parses", text) }
        require(again == d, "duration format round trip", "\(d) -> \(text) -> \(again)")
    }

    // MARK: 9. Command-line arguments

    /// `ArgumentParser.parse` with every command's spec (argv is the input cut at NUL).
    /// Property: a successful parse only reports declared options.
    public static func args(_ input: FuzzInput) {
        let argv = input.bytes.isEmpty ? [] : input.nulSeparated
        for command in CLI.commands {
            guard let parsed = try? ArgumentParser.parse(argv, command.spec) else { continue }
            let names = Set(command.spec.options.map(\.name))
            require(parsed.flags.isSubset(of: names) && Set(parsed.values.keys).isSubset(of: names),
                    "parsed options are declared ones")
            for name in names { _ = parsed.list(name) }
        }
    }

    // MARK: 10. JSON

    /// `JSON.parse`. Property: serialize(parse(x)) parses, and serializing that again gives the same text
    /// (numbers are written with at most 3 decimals, so values themselves may round once).
    public static func json(_ input: FuzzInput) {
        guard let value = try? JSON.parse(input.bytes) else { return }
        let text = JSON.serialize(value)
        guard let again = try? JSON.parse(text) else { violated("serialized JSON parses", text) }
        require(JSON.serialize(again) == text, "JSON serialization is stable", text)
    }

    // MARK: 14. sd_notify datagrams

    /// `NotifyMessage.parse` on the input as one datagram, then `NotifyState.apply` and its verdict.
    /// Properties: a parsed message re-encoded parses back to the same message (unknown keys aside);
    /// STATUS stays within its bound; a state's JSON reads back to the same state; the verdict of a
    /// state that saw STOPPING=1 or WATCHDOG=trigger is never ready.
    public static func notify(_ input: FuzzInput) {
        let m: NotifyMessage
        do { m = try NotifyMessage.parse(input.bytes) } catch {
            if case .tooLarge = error { require(input.bytes.count > NotifyMessage.maxBytes, "tooLarge only past the bound") }
            return
        }
        require(input.bytes.count <= NotifyMessage.maxBytes, "notify datagram within its bound")
        require((m.status?.utf8.count ?? 0) <= NotifyMessage.maxStatusBytes, "STATUS within its bound")
        let encoded = m.encoded
        if !encoded.isEmpty && !(m.status?.contains("\n") ?? false) {
            guard var again = try? NotifyMessage.parse(encoded) else { violated("re-encoded notify message parses", "\(m)") }
            again.ignored = m.ignored
            require(again == m, "notify message round trip", "\(m) -> \(again)")
        }
        var state = NotifyState(pid: 42)
        state.apply(m, now: 100)
        state.apply(m, now: 200)
        require(NotifyState(json: try? JSON.parse(JSON.serialize(state.json()))) == state,
                "notify state JSON round trip", "\(state)")
        let v = NotifyView(state: state, runningSince: 50).verdict(name: "p", now: 300, watchdog: .seconds(30))
        if m.stopping || m.watchdog == .trigger { require(!v.ready, "STOPPING/trigger is never ready") }
        if m.ready && !m.stopping && m.watchdog != .trigger && m.watchdogUSec == nil && m.watchdog == nil { require(v.ready, "READY=1 alone is ready", v.detail) }
    }
}

extension FuzzTargets {
    // MARK: 11. HTTP/2 frames (the gRPC server's connection)

    /// `HTTP2ServerConnection.receive` after the client preface (prepended: the input is the frames), fed whole
    /// and in chunks whose sizes come from the first byte; then each request is answered as the gRPC server does.
    /// Properties: **differential** (whole and chunked give the same events, output and failure); open streams
    /// never exceed the limit; request bodies stay within `maxRequestBody`; output is at most a constant plus
    /// 8 bytes per input byte (no amplification beyond the frames' own acknowledgements and answers).
    public static func h2Frames(_ input: FuzzInput) {
        guard let control = input.bytes.first else { return }
        let stream = HTTP2FrameHeader.preface + Array(input.bytes.dropFirst())
        let now = ContinuousClock.now
        let whole = h2Run([stream[...]], now: now)
        var chunks: [ArraySlice<UInt8>] = []
        var at = 0
        var size = Int(control % 13) + 1
        while at < stream.count {
            let end = min(stream.count, at + size)
            chunks.append(stream[at..<end])
            at = end
            size = (size * 7 + 5) % 61 + 1
        }
        let split = h2Run(chunks, now: now)
        require(whole.events == split.events, "HTTP/2 events whole and chunked are equal", "\(whole.events.count) vs \(split.events.count)")
        require(whole.output == split.output, "HTTP/2 output whole and chunked is equal")
        require(whole.failure == split.failure, "HTTP/2 failure whole and chunked is equal",
                "\(whole.failure ?? "-") vs \(split.failure ?? "-")")
        require(whole.output.count <= 256 + 8 * stream.count, "HTTP/2 output bounded by the input",
                "\(whole.output.count) bytes out for \(stream.count) in")
    }

    static func h2Run(_ chunks: [ArraySlice<UInt8>], now: ContinuousClock.Instant)
        -> (events: [HTTP2ServerConnection.Event], output: [UInt8], failure: String?) {
        var limits = HTTP2Limits()
        limits.maxConcurrentStreams = 8
        limits.maxRequestBody = 64
        limits.maxHeaderBlockSize = 4096
        limits.maxHeaderListSize = 2048
        let c = HTTP2ServerConnection(limits: limits, now: now)
        var events: [HTTP2ServerConnection.Event] = []
        var output: [UInt8] = []
        for chunk in chunks {
            let got = chunk.withUnsafeBytes { c.receive($0, now: now) }
            events += got
            require(c.streamCount <= limits.maxConcurrentStreams, "open streams within the limit")
            output += c.output[c.outputStart...]
            c.consumed(c.pendingOutput)
        }
        // Answered after all the input, so that whole and chunked runs queue the answers at the same point.
        for e in events {
                switch e {
                case .request(let id, _, let body):
                    require(body.count <= limits.maxRequestBody, "request body within the limit")
                    c.sendHeaders(id, [(":status", "200"), ("content-type", "application/grpc")], endStream: false)
                    c.sendData(id, [0, 0, 0, 0, 2, 8, 1], endStream: false)
                    c.sendHeaders(id, [("grpc-status", "0")], endStream: true)
                case .bodyTooLarge(let id, _):
                    c.sendHeaders(id, [(":status", "200"), ("grpc-status", "8")], endStream: true)
                }
        }
        c.tick(now: now + .seconds(60))
        c.goAway()
        output += c.output[c.outputStart...]
        return (events, output, c.failure)
    }

    // MARK: 12. HPACK

    /// `HPACKDecoder.decode` over a sequence of header blocks (each a 2-byte big-endian length, then the block;
    /// the last one takes what is left) on one decoder; the first byte picks a 256-byte table and a 512-byte
    /// list limit. Then `HPACKHuffman.decode` on the raw input.
    /// Properties: a decoded list stays within the list limit and the table within its size; the fields
    /// re-encoded by `HPACKEncoder` decode to the same fields; Huffman encode/decode round-trips.
    public static func hpack(_ input: FuzzInput) {
        guard let control = input.bytes.first else { return }
        let tableSize = control & 1 == 1 ? 256 : 4096
        let listLimit = control & 2 == 2 ? 512 : 16384
        var d = HPACKDecoder(maxTableSize: tableSize, maxHeaderListSize: listLimit)
        var rest = input.bytes.dropFirst()
        while !rest.isEmpty {
            let block: ArraySlice<UInt8>
            if rest.count >= 2 {
                let n = Int(rest[rest.startIndex]) << 8 | Int(rest[rest.startIndex + 1])
                let from = rest.startIndex + 2
                let to = min(rest.endIndex, from + n)
                block = rest[from..<to]
                rest = rest[to...]
            } else {
                block = rest
                rest = rest[rest.endIndex...]
            }
            guard let fields = try? d.decode(block) else { break }
            require(fields.reduce(0) { $0 + $1.size } <= listLimit, "HPACK header list within the limit")
            require(d.tableSize <= d.maxTableSize && d.maxTableSize <= tableSize, "HPACK table within its size")
            var e = HPACKEncoder()
            var fresh = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 1 << 20)
            let again = try? fresh.decode(e.encode(fields)[...])
            require(again == fields, "HPACK re-encoded fields decode to the same fields")
            for f in fields.prefix(4) {
                require((try? HPACKHuffman.decode(HPACKHuffman.encode(f.value)[...], limit: f.value.count)) == f.value,
                        "Huffman round trip of a decoded value")
            }
        }
        if let raw = try? HPACKHuffman.decode(input.bytes[...], limit: 1 << 16) {
            require((try? HPACKHuffman.decode(HPACKHuffman.encode(raw)[...], limit: raw.count)) == raw, "Huffman round trip")
            require(HPACKHuffman.encodedCount(raw) == HPACKHuffman.encode(raw).count, "Huffman encodedCount")
        }
    }

    // MARK: 13. Protobuf (grpc.health.v1 messages)

    /// The health messages' decoders, and `GRPCHealthService.call` with the input as a Check, Watch and List
    /// request. Properties: a decoded message re-encoded decodes to the same value; a Check answers a message,
    /// NOT_FOUND or INVALID_ARGUMENT, never anything else.
    public static func protobuf(_ input: FuzzInput) {
        let bytes = input.bytes[...]
        if let service = try? GRPCHealth.decodeCheckRequest(bytes) {
            require((try? GRPCHealth.decodeCheckRequest(GRPCHealth.encodeCheckRequest(service)[...])) == service,
                    "HealthCheckRequest round trip")
        }
        if let raw = try? GRPCHealth.decodeCheckResponse(bytes), let status = GRPCHealth.ServingStatus(rawValue: raw) {
            require((try? GRPCHealth.decodeCheckResponse(GRPCHealth.encodeCheckResponse(status)[...])) == raw,
                    "HealthCheckResponse round trip")
        }
        if let list = try? GRPCHealth.decodeListResponse(bytes) {
            let known = list.compactMap { e in GRPCHealth.ServingStatus(rawValue: e.1).map { (e.0, $0) } }
            let again = (try? GRPCHealth.decodeListResponse(GRPCHealth.encodeListResponse(known)[...])) ?? []
            require(again.map(\.0) == known.map(\.0) && again.map(\.1) == known.map(\.1.rawValue), "HealthListResponse round trip")
        }
        _ = try? GRPCHealth.decodeListRequest(bytes)
        var reader = ProtoReader(bytes)
        var fields = 0
        while let next = try? reader.next(), next != nil { fields += 1 }
        require(fields <= bytes.count, "protobuf fields fewer than bytes")
        let service = fuzzHealthService
        switch service.call(path: GRPCHealthService.checkPath, request: bytes).body {
        case .message, .failure(.notFound, _), .failure(.invalidArgument, _): break
        default: violated("Check answers a message, NOT_FOUND or INVALID_ARGUMENT")
        }
        _ = service.call(path: GRPCHealthService.watchPath, request: bytes)
        _ = service.call(path: GRPCHealthService.listPath, request: bytes)
    }

    static let fuzzHealthService = GRPCHealthService(endpoints: HealthEndpoints(
        cache: HealthCache(log: { _ in }),
        checks: [.init(name: "app", kind: "hook", liveness: true), .init(name: "readyz", kind: "hook", liveness: false)],
        maxAge: .seconds(10)))
}

fileprivate func firstRange(of needle: [UInt8], in hay: [UInt8]) -> Range<Int>? {
    guard needle.count <= hay.count else { return nil }
    for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) {
        return i..<(i + needle.count)
    }
    return nil
}

fileprivate func lastRange(of needle: [UInt8], in hay: [UInt8]) -> Range<Int>? {
    guard needle.count <= hay.count else { return nil }
    for i in stride(from: hay.count - needle.count, through: 0, by: -1) where hay[i..<(i + needle.count)].elementsEqual(needle) {
        return i..<(i + needle.count)
    }
    return nil
}

