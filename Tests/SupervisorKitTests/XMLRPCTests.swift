import ProbeTestSupport
@testable import SupervisorKit
import Testing

@Suite struct XMLRPCFixtureTests {
    @Test(arguments: supervisorVersions)
    func getAllProcessInfo(version: String) throws {
        let http = try CapturedHTTP(supervisorFixture("\(version)-xmlrpc-getAllProcessInfo.http"))
        #expect(http.status == 200)
        #expect(Int(http.header("Content-Length") ?? "") == http.body.count)
        guard case .value(let v) = try XMLRPC.parseResponse(http.body) else {
            Issue.record("expected a value")
            return
        }
        let procs = try SupervisorProcess.list(fromProcessInfo: v)
        #expect(procs.map(\.namespec) == ["badstart", "chatty", "failfast", "longrun", "never", "rawlog", "start",
                                         "web:stubborn", "worker:worker_00", "worker:worker_01"])
        let byName = Dictionary(uniqueKeysWithValues: procs.map { ($0.namespec, $0) })
        let bad = try #require(byName["badstart"])
        #expect(bad.state == .exited)
        #expect(bad.exitStatus == 1)
        #expect(bad.spawnError == "Bad exit code 1")
        #expect(bad.pid == 0)
        let start = try #require(byName["start"])
        #expect(start.state == .exited)
        #expect(start.exitStatus == 0)
        #expect(start.spawnError == "")
        let failfast = try #require(byName["failfast"])
        #expect(failfast.state == .fatal)
        #expect(failfast.exitStatus == 0)
        #expect(failfast.spawnError == "Exited too quickly (process log may have details)")
        let never = try #require(byName["never"])
        #expect(never.state == .stopped)
        #expect(never.description == "Not started")
        #expect(never.startTime == 0)
        let web = try #require(byName["web:stubborn"])
        #expect(web.group == "web" && web.name == "stubborn")
        #expect(web.state == .running)
        #expect(web.pid > 0)
        #expect(web.description.hasPrefix("pid \(web.pid), uptime "))
        #expect(web.now >= web.startTime && web.startTime > 1_700_000_000)
    }

    @Test(arguments: supervisorVersions)
    func getState(version: String) throws {
        let http = try CapturedHTTP(supervisorFixture("\(version)-xmlrpc-getState.http"))
        guard case .value(let v) = try XMLRPC.parseResponse(http.body) else {
            Issue.record("expected a value")
            return
        }
        let st = try SupervisorState(xmlrpc: v)
        #expect(st == SupervisorState(code: 1, name: "RUNNING"))
        #expect(st.isRunning)
    }

    @Test(arguments: supervisorVersions)
    func faults(version: String) throws {
        let bad = try CapturedHTTP(supervisorFixture("\(version)-xmlrpc-getProcessInfo-badname.http"))
        #expect(try XMLRPC.parseResponse(bad.body) == .fault(code: 10, string: "BAD_NAME: nosuch"))
        let shut = try CapturedHTTP(supervisorFixture("\(version)-xmlrpc-shutdown.http"))
        #expect(try XMLRPC.parseResponse(shut.body) == .fault(code: 6, string: "SHUTDOWN_STATE"))
        #expect(SupervisorError.fromFault(code: 6, string: "SHUTDOWN_STATE") == .shuttingDown)
        #expect(SupervisorError.shuttingDown.description == "supervisord is shutting down (SHUTDOWN_STATE)")
    }

    @Test(arguments: supervisorVersions)
    func multicall(version: String) throws {
        let http = try CapturedHTTP(supervisorFixture("\(version)-xmlrpc-multicall.http"))
        guard case .value(let v) = try XMLRPC.parseResponse(http.body), let items = v.arrayValue else {
            Issue.record("expected an array")
            return
        }
        #expect(items.count == 2)
        #expect(try SupervisorState(xmlrpc: items[0]).isRunning)
        #expect(try SupervisorProcess.list(fromProcessInfo: items[1]).count == 10)
    }

    @Test(arguments: supervisorVersions)
    func requestMatchesPythonSerializer(version: String) throws {
        // The captured request is xmlrpc.client.dumps((), 'supervisor.getAllProcessInfo').
        let req = try supervisorFixture("\(version)-xmlrpc-request-getAllProcessInfo.http")
        let http = try CapturedHTTP(req)
        #expect(XMLRPC.encodeCall(method: "supervisor.getAllProcessInfo") == http.body)
    }

    @Test func html401BodyIsMalformedXMLRPC() throws {
        let http = try CapturedHTTP(supervisorFixture("4.3.0-xmlrpc-401.http"))
        #expect(http.status == 401)
        #expect(http.header("WWW-Authenticate") == "Basic realm=\"default\"")
        #expect(throws: XMLRPCError.self) { try XMLRPC.parseResponse(http.body) }
    }
}

@Suite struct XMLRPCParserTests {
    func parse(_ s: String) throws(XMLRPCError) -> XMLRPCResponse { try XMLRPC.parseResponse(Array(s.utf8)) }
    func value(_ s: String) throws(XMLRPCError) -> XMLRPCValue { try XMLRPC.parseValue(Array(s.utf8)) }

    @Test func scalarTypes() throws {
        #expect(try value("<value>plain</value>") == .string("plain"))
        #expect(try value("<value></value>") == .string(""))
        #expect(try value("<value/>") == .string(""))
        #expect(try value("<value><string/></value>") == .string(""))
        #expect(try value("<value> <int> -42 </int> </value>") == .int(-42))
        #expect(try value("<value><i4>+7</i4></value>") == .int(7))
        #expect(try value("<value><boolean>1</boolean></value>") == .bool(true))
        #expect(try value("<value><boolean>0</boolean></value>") == .bool(false))
        #expect(try value("<value><double>-1.5</double></value>") == .double(-1.5))
        #expect(try value("<value><array><data/></array></value>") == .array([]))
        #expect(try value("<value><struct></struct></value>") == .struct([:]))
    }

    /// Integers are read byte by byte (not with the generic `Int(Substring)`): the same numbers,
    /// to both ends of Int, and nothing else.
    @Test func integerEdges() {
        #expect(XMLParser.integer("9223372036854775807") == Int.max)
        #expect(XMLParser.integer("-9223372036854775808") == Int.min)
        #expect(XMLParser.integer("\t\n +0042 \r\u{0B}\u{0C}") == 42)
        #expect(XMLParser.integer("-0") == 0)
        for bad in ["9223372036854775808", "-9223372036854775809", "", " ", "+", "-", "++5", "+-5", "--5", "5 5", "0x10", "1e3", "٣", "99999999999999999999999"] {
            #expect(XMLParser.integer(bad) == nil, "\(bad)")
        }
        for n in [0, 1, -1, 7, 1_000_000, -123_456_789, Int.max - 1, Int.min + 1] {
            #expect(XMLParser.integer(String(n)) == n)
            #expect(XMLParser.integer(String(n)) == Int(String(n)))
        }
    }

    /// Text is decoded as it is when it is ASCII, validated otherwise: the same strings.
    @Test func textFastPathKeepsTheStrings() throws {
        #expect(try value("<value><string>pid 123, uptime 0:01:02</string></value>") == .string("pid 123, uptime 0:01:02"))
        #expect(try value("<value><string>caf\u{E9} \u{1F600}</string></value>") == .string("caf\u{E9} \u{1F600}"))
        #expect(throws: XMLRPCError.self) { _ = try XMLRPC.parseValue([0x3C, 0x76, 0x61, 0x6C, 0x75, 0x65, 0x3E, 0xFF, 0x3C, 0x2F, 0x76, 0x61, 0x6C, 0x75, 0x65, 0x3E]) }
    }

    @Test func entitiesAndReferences() throws {
        #expect(try value("<value>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</value>") == .string("a & b <c> \"d\" 'e'"))
        #expect(try value("<value><string>&#233;&#x1F680;&#X41;</string></value>") == .string("é🚀A"))
        #expect(try value("<value><string><![CDATA[<raw> & ]]>x</string></value>") == .string("<raw> & x"))
        #expect(try value("<value>caf\u{e9} \u{65e5}\u{672c}</value>") == .string("café 日本"))
    }

    @Test func nestedStructAndArray() throws {
        let v = try value("""
            <value><struct>
            <member><name>a</name><value><array><data>
            <value><int>1</int></value><value>two</value>
            </data></array></value></member>
            <member><name>b</name><value><struct/></value></member>
            </struct></value>
            """)
        #expect(v == .struct(["a": .array([.int(1), .string("two")]), "b": .struct([:])]))
        #expect(v["a"]?.arrayValue?.count == 2)
    }

    @Test func prologCommentsAndWhitespace() throws {
        let doc = "\n<?xml version='1.0' encoding='UTF-8'?>\n<!-- hi -->\n<methodResponse>\n<params> <param>\n<value>x</value></param></params></methodResponse>\n\n"
        #expect(try parse(doc) == .value(.string("x")))
    }

    @Test func encoderEscapesAndRoundTrips() throws {
        let params: [XMLRPCValue] = [.string("a&b<c>\"d\"'e'"), .int(-3), .bool(true), .double(2.5),
                                     .array([.int(1), .string("x")]), .struct(["k": .string("v"), "n": .int(1)])]
        let body = XMLRPC.encodeCall(method: "system.multicall", params: params)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("<string>a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;</string>"))
        #expect(text.contains("<methodName>system.multicall</methodName>"))
        // The same values come back through the response parser.
        for p in params {
            let resp = "<methodResponse><params><param>" + valueXML(p) + "</param></params></methodResponse>"
            #expect(try parse(resp) == .value(p))
        }
    }

    func valueXML(_ v: XMLRPCValue) -> String {
        let call = String(decoding: XMLRPC.encodeCall(method: "m", params: [v]), as: UTF8.self)
        let start = call.firstRange(of: "<param>\n")!.upperBound
        let end = call.firstRange(of: "\n</param>")!.lowerBound
        return String(call[start..<end])
    }

    @Test(arguments: [
        ("", "empty document"),
        ("<methodResponse>", "expected <params> or <fault>"),
        ("<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>", "not an integer"),
        ("<methodResponse><params><param><value><int>99999999999999999999999</int></value></param></params></methodResponse>", "not an integer"),
        ("<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>", "not 0 or 1"),
        ("<methodResponse><params><param><value><base64>AA==</base64></value></param></params></methodResponse>", "unsupported XML-RPC type <base64>"),
        ("<methodResponse><params><param><value><nil/></value></param></params></methodResponse>", "unsupported XML-RPC type <nil>"),
        ("<methodResponse><params><param><value>a &bogus; b</value></param></params></methodResponse>", "unknown entity"),
        ("<methodResponse><params><param><value>a & b</value></param></params></methodResponse>", "entity"),
        ("<methodResponse><params><param><value>&#0;</value></param></params></methodResponse>", "invalid character reference"),
        ("<methodResponse><params><param><value>&#xD800;</value></param></params></methodResponse>", "invalid character reference"),
        ("<methodResponse><params><param><value>x</value></param></params></methodResponse>junk", "after </methodResponse>"),
        ("<methodResponse><params><param><value>x</valu></param></params></methodResponse>", "expected </value>"),
        ("<methodResponse><fault><value><struct></struct></value></fault></methodResponse>", "faultCode"),
        ("<!DOCTYPE x><methodResponse/>", "document type"),
        ("<methodResponse><params><param><value>t<int>1</int></value></param></params></methodResponse>", "text mixed"),
        ("<methodResponse a=\"1\"><params/></methodResponse>", "attributes"),
    ])
    func malformedDocumentsAreReported(doc: String, reason: String) {
        do {
            let r = try parse(doc)
            Issue.record("parsed \(r) from malformed \(doc)")
        } catch {
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.offset >= 0 && error.offset <= doc.utf8.count)
        }
    }

    @Test func errorOffsetPointsAtTheProblem() {
        let doc = "<methodResponse><params><param><value><int>zz</int></value></param></params></methodResponse>"
        do {
            _ = try parse(doc)
            Issue.record("no error")
        } catch {
            #expect(error.offset == 38)  // at <int>
            #expect(error.description.hasPrefix("malformed XML-RPC at byte 38: "))
        }
    }

    @Test func invalidUTF8IsAnError() {
        let doc = Array("<methodResponse><params><param><value>".utf8) + [0xFF, 0xFE] + Array("</value></param></params></methodResponse>".utf8)
        #expect(throws: XMLRPCError.self) { try XMLRPC.parseResponse(doc) }
    }

    @Test func depthLimit() throws {
        let deep = String(repeating: "<value><array><data>", count: 40) + String(repeating: "</data></array></value>", count: 40)
        do {
            _ = try value(deep)
            Issue.record("no error for depth 40")
        } catch {
            #expect(error.reason.contains("nested more than 32"))
        }
        let ok = String(repeating: "<value><array><data>", count: 10) + String(repeating: "</data></array></value>", count: 10)
        #expect(try value(ok).arrayValue != nil)
    }

    @Test func sizeLimit() {
        let doc = Array("<methodResponse><params><param><value>x</value></param></params></methodResponse>".utf8)
        #expect(throws: XMLRPCError.self) { try XMLRPC.parseResponse(doc, limits: .init(maxBytes: 10)) }
        #expect(throws: XMLRPCError.self) {
            try XMLRPC.parseValue(Array("<value><array><data><value/><value/><value/></data></array></value>".utf8),
                                  limits: .init(maxValues: 3))
        }
    }

    @Test func everyPrefixOfAFixtureFailsCleanly() throws {
        // A truncated reply must be an error, never a crash or a wrong value.
        let http = try CapturedHTTP(supervisorFixture("4.3.0-xmlrpc-getState.http"))
        let body = http.body
        var cut = body.count - 1
        while cut >= 0 && (body[cut] == 0x0A) { cut -= 1 }  // trailing newline is optional
        for n in 0...cut {
            #expect(throws: XMLRPCError.self) { try XMLRPC.parseResponse(body.prefix(n)) }
        }
    }

    @Test func mutatedRepliesNeverCrash() throws {
        let body = try CapturedHTTP(supervisorFixture("4.3.0-xmlrpc-multicall.http")).body
        var rng = SystemRandomNumberGenerator()
        let interesting: [UInt8] = Array("<>/&;#x0123456789abcdefvalue".utf8) + [0x00, 0x80, 0xC3, 0xFF]
        for _ in 0..<300 {
            var b = body
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let at = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[at] = interesting.randomElement(using: &rng)!
                case 1: b.remove(at: at)
                default: b.insert(interesting.randomElement(using: &rng)!, at: at)
                }
            }
            if case .value(let v)? = try? XMLRPC.parseResponse(b), let items = v.arrayValue, items.count == 2 {
                _ = try? SupervisorProcess.list(fromProcessInfo: items[1])
            }
        }
    }

    @Test func processInfoDecodingErrors() {
        #expect(throws: SupervisorError.malformedReply("process info is string, expected a struct")) {
            try SupervisorProcess(processInfo: .string("x"))
        }
        #expect(throws: SupervisorError.self) { try SupervisorProcess(processInfo: .struct(["group": .string("g")])) }
        #expect(throws: SupervisorError.self) {
            try SupervisorProcess(processInfo: .struct(["name": .string("a"), "state": .string("20")]))
        }
        let p = try? SupervisorProcess(processInfo: .struct(["name": .string("a"), "statename": .string("RUNNING")]))
        #expect(p?.state == .running && p?.group == "a" && p?.exitStatus == nil)
        let q = try? SupervisorProcess(processInfo: .struct(["name": .string("a"), "group": .string("g"), "state": .int(77)]))
        #expect(q?.state == .unknown)
    }
}
