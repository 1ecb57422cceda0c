import ProbeTestSupport
import SupervisorKit
import Testing

@Suite struct EventStreamFixtureTests {
    static let expectedCounts: [String: [String: Int]] = [
        "4.3.0": ["SUPERVISOR_STATE_CHANGE_RUNNING": 1, "SUPERVISOR_STATE_CHANGE_STOPPING": 1,
                  "PROCESS_STATE_STARTING": 11, "PROCESS_STATE_RUNNING": 8, "PROCESS_STATE_BACKOFF": 3,
                  "PROCESS_STATE_FATAL": 1, "PROCESS_STATE_EXITED": 2, "PROCESS_STATE_STOPPING": 5,
                  "PROCESS_STATE_STOPPED": 4, "TICK_5": 4, "PROCESS_LOG_STDOUT": 91],
        "4.2.5": ["SUPERVISOR_STATE_CHANGE_RUNNING": 1, "SUPERVISOR_STATE_CHANGE_STOPPING": 1,
                  "PROCESS_STATE_STARTING": 11, "PROCESS_STATE_RUNNING": 8, "PROCESS_STATE_BACKOFF": 3,
                  "PROCESS_STATE_FATAL": 1, "PROCESS_STATE_EXITED": 2, "PROCESS_STATE_STOPPING": 5,
                  "PROCESS_STATE_STOPPED": 4, "TICK_5": 3, "PROCESS_LOG_STDOUT": 91],
    ]

    func check(_ events: [SupervisorEvent], version: String) throws {
        let total = version == "4.3.0" ? 131 : 130
        #expect(events.count == total)
        #expect(events.map(\.header.serial) == Array(0..<total))
        #expect(events.allSatisfy { $0.header.serial == $0.header.poolSerial && $0.header.pool == "rawlog" })
        #expect(events.allSatisfy { $0.header.version == "3.0" && $0.header.server == "supervisor" })
        var counts: [String: Int] = [:]
        for e in events { counts[e.header.eventName, default: 0] += 1 }
        #expect(counts == Self.expectedCounts[version])
        // len is code points: every log payload is longer in bytes than in characters.
        for e in events {
            #expect(e.payload.unicodeScalars.count == e.header.length)
        }
        let logs = events.filter { $0.header.eventName == "PROCESS_LOG_STDOUT" }
        #expect(logs.allSatisfy { $0.payloadBytes.count > $0.header.length })
    }

    @Test(arguments: supervisorVersions)
    func wholeStream(version: String) throws {
        let bytes = try supervisorFixture("\(version)-events-stream.bin")
        var d = EventStreamDecoder()
        d.feed(bytes)
        var events: [SupervisorEvent] = []
        while let e = try d.next() { events.append(e) }
        try d.finish()
        #expect(d.bufferedByteCount == 0)
        #expect(d.consumedByteCount == bytes.count)
        try check(events, version: version)
        #expect(try EventStreamDecoder.decodeAll(bytes) == events)
    }

    @Test(arguments: supervisorVersions)
    func byteByByte(version: String) throws {
        let bytes = try supervisorFixture("\(version)-events-stream.bin")
        var d = EventStreamDecoder()
        var events: [SupervisorEvent] = []
        for b in bytes {
            d.feed([b])
            while let e = try d.next() { events.append(e) }
        }
        try d.finish()
        try check(events, version: version)
        #expect(events == (try EventStreamDecoder.decodeAll(bytes)))
    }

    @Test(arguments: supervisorVersions)
    func payloads(version: String) throws {
        let events = try EventStreamDecoder.decodeAll(try supervisorFixture("\(version)-events-stream.bin"))
        let exited = events.filter { $0.header.eventName == "PROCESS_STATE_EXITED" }
        let byName = Dictionary(uniqueKeysWithValues: try exited.map { e in
            let p = try e.parsedPayload()
            return (p["processname"]!, p)
        })
        #expect(byName["start"]?["expected"] == "1")
        #expect(byName["badstart"]?["expected"] == "0")
        #expect(byName["badstart"]?["from_state"] == "RUNNING")
        #expect(Int(byName["badstart"]?["pid"] ?? "") ?? 0 > 0)
        let fatal = try #require(events.first { $0.header.eventName == "PROCESS_STATE_FATAL" })
        #expect(try fatal.parsedPayload()["processname"] == "failfast")
        let tick = try #require(events.first { $0.header.eventName == "TICK_5" })
        #expect(Int(try tick.parsedPayload()["when"] ?? "") ?? 0 > 1_700_000_000)
        let log = try #require(events.first { $0.header.eventName == "PROCESS_LOG_STDOUT" })
        let lp = try log.parsedPayload()
        #expect(lp["channel"] == "stdout" && lp["processname"] == "chatty")
        #expect(lp.data == "café ✓ 日本 #1\n")
        #expect(log.header.length == 74 && log.payloadBytes.count == 81)
        let rocket = try #require(events.first { $0.payload.hasSuffix("#5 🚀\n") })
        #expect(rocket.header.length == 76 && rocket.payloadBytes.count == 86)
        let running = try #require(events.first)
        #expect(running.header.eventName == "SUPERVISOR_STATE_CHANGE_RUNNING" && running.payloadBytes.isEmpty)
        #expect(try running.parsedPayload() == EventPayload(fields: [:], data: nil))
    }
}

@Suite struct EventFramingTests {
    func header(_ name: String, len: Int, serial: Int = 1) -> [UInt8] {
        Array("ver:3.0 server:supervisor serial:\(serial) pool:p poolserial:\(serial) eventname:\(name) len:\(len)\n".utf8)
    }

    @Test func headerParse() throws {
        let h = try EventHeader.parse("ver:3.0 server:supervisor serial:31 pool:NAME poolserial:30 eventname:PROCESS_STATE_EXITED len:76\n")
        #expect(h.serial == 31 && h.poolSerial == 30 && h.pool == "NAME" && h.eventName == "PROCESS_STATE_EXITED" && h.length == 76)
        #expect(h.fields["ver"] == "3.0")
    }

    @Test(arguments: [
        ("ver:3.0 serial:1 pool:p poolserial:1 eventname:X", "no len"),
        ("ver:3.0 serial:x pool:p poolserial:1 eventname:X len:1", "serial"),
        ("ver:3.0 serial:1 pool:p poolserial:1 eventname:X len:-1", "len"),
        ("ver:3.0 serial:1 pool:p poolserial:1 eventname:X len:99999999999999999999", "len"),
        ("garbage", "not key:value"),
        ("", "no ver"),
    ])
    func badHeaders(line: String, reason: String) {
        do {
            _ = try EventHeader.parse(line)
            Issue.record("parsed \(line)")
        } catch {
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test func malformedHeaderInStreamIsReportedAndSticky() throws {
        var d = EventStreamDecoder()
        d.feed(header("TICK_5", len: 5) + Array("when:".utf8))
        d.feed(Array("RESULT 2\nOK".utf8))
        let first = try d.next()
        #expect(first?.payload == "when:")
        do {
            _ = try d.next()
            Issue.record("no error")
        } catch {
            #expect(error.offset == first!.header.length + header("TICK_5", len: 5).count)
            #expect(error.description.contains("malformed event at byte"))
        }
        #expect(throws: EventParseError.self) { try d.next() }
    }

    @Test func headerWithoutNewlineIsBounded() {
        var d = EventStreamDecoder()
        d.feed([UInt8](repeating: 0x61, count: 5000))
        #expect(throws: EventParseError.self) { try d.next() }
    }

    @Test func binaryInHeaderIsAnError() {
        var d = EventStreamDecoder()
        d.feed([0x00, 0x0A])
        #expect(throws: EventParseError.self) { try d.next() }
    }

    @Test func lengthLimit() {
        var d = EventStreamDecoder(maxPayloadLength: 10)
        d.feed(header("X", len: 11))
        #expect(throws: EventParseError.self) { try d.next() }
    }

    @Test func partialInputWaits() throws {
        var d = EventStreamDecoder()
        d.feed(header("X", len: 3).dropLast())
        #expect(try d.next() == nil)
        d.feed([0x0A, 0x61])
        #expect(try d.next() == nil)
        #expect(throws: EventParseError.self) { try d.finish() }
        d.feed([0x62, 0x63, 0x64])
        #expect(try d.next()?.payload == "abc")
        #expect(d.bufferedByteCount == 1)
    }

    @Test func splitMultibyteCharacterIsWaitedFor() throws {
        // "é" (C3 A9) split across feeds must count as one character.
        var d = EventStreamDecoder()
        d.feed(header("X", len: 2) + [0x61, 0xC3])
        #expect(try d.next() == nil)
        d.feed([0xA9])
        let e = try #require(try d.next())
        #expect(e.payloadBytes == [0x61, 0xC3, 0xA9])
        #expect(e.payload == "aé")
    }

    @Test func invalidUTF8BytesCountOneEach() throws {
        // As Python's surrogateescape: every byte of an ill-formed sequence is one character.
        let cases: [([UInt8], Int)] = [
            ([0xFF], 1), ([0xC3, 0x28], 2), ([0xE6, 0x97, 0x61], 3), ([0xED, 0xA0, 0x80], 3),
            ([0xC0, 0xAF], 2), ([0xF4, 0x90, 0x80, 0x80], 4), ([0x80], 1), ([0xF0, 0x9F, 0x9A, 0x80], 1),
        ]
        for (bytes, chars) in cases {
            var d = EventStreamDecoder()
            d.feed(header("X", len: chars) + bytes + Array("ver".utf8))
            let e = try #require(try d.next())
            #expect(e.payloadBytes == bytes, "\(bytes)")
            #expect(d.bufferedByteCount == 3)
        }
    }

    @Test func randomChunkingMatchesWhole() throws {
        let bytes = try supervisorFixture("4.3.0-events-stream.bin")
        let whole = try EventStreamDecoder.decodeAll(bytes)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            var d = EventStreamDecoder()
            var events: [SupervisorEvent] = []
            var i = 0
            while i < bytes.count {
                let n = Int.random(in: 1...700, using: &rng)
                d.feed(bytes[i..<min(bytes.count, i + n)])
                i += n
                while let e = try d.next() { events.append(e) }
            }
            #expect(events == whole)
        }
    }

    @Test func garbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        let base = Array(header("X", len: 4)) + [0xF0, 0x9F, 0x9A]
        for _ in 0..<300 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...5, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            var d = EventStreamDecoder()
            d.feed(bytes)
            _ = try? d.next()
            _ = try? d.next()
        }
    }
}
