import Testing
@testable import ProbeSupport
import ProbeTestSupport

@Suite struct DurationTests {
    @Test(arguments: [("250ms", 250), ("5s", 5000), ("1m", 60000), ("1m30s", 90000), ("1.5s", 1500), ("2h", 7_200_000), ("3", 3000), (" 10s ", 10000)])
    func parses(_ text: String, _ ms: Int64) throws {
        #expect(try DurationText.parse(text).milliseconds == ms)
    }

    @Test(arguments: ["", "5x", "-1s", "s", "1.2.3s", "25h", "5 s", "1s5", "abc"])
    func rejects(_ text: String) {
        #expect(throws: DurationParseError.self) { try DurationText.parse(text) }
    }

    @Test func formats() {
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
        #expect(DurationText.format(.seconds(5)) == "5s")
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
        #expect(DurationText.format(.seconds(90)) == "1m30s")
    }
}

@Suite struct INITests {
    @Test func parsesSupervisordStyle() throws {
        let text = """
        ; comment
        # another
        [probe]
        timeout = 5s   ; inline comment
        hooks_dir: /x#notacomment

        [hook:a]
        command = /bin/echo a
          continued
        """
        let sections = try INI.parse(text, file: "t.conf")
        #expect(sections.map(\.name) == ["probe", "hook:a"])
        #expect(sections[0]["timeout"] == "5s")
        #expect(sections[0]["hooks_dir"] == "/x#notacomment")
        #expect(sections[1]["command"] == "/bin/echo a\ncontinued")
        #expect(sections[1].kind == "hook" && sections[1].instance == "a")
        #expect(sections[1].entry("command")?.location == FileLocation(file: "t.conf", line: 8))
    }

    /// Lines end at LF bytes, so a CRLF file reads as its LF twin (it used to be one line:
    /// "\r\n" is one Character), with the same line numbers; other text is untouched.
    @Test func crlfAndUnicodeLines() throws {
        let lf = "[probe]\ntimeout = 5s\n\n[hook:caf\u{E9}]\ncommand = /bin/echo \u{1F600}\n  more\n"
        let crlf = lf.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        for text in [lf, crlf] {
            let sections = try INI.parse(text, file: "t.conf")
            #expect(sections.map(\.name) == ["probe", "hook:caf\u{E9}"])
            #expect(sections[0]["timeout"] == "5s")
            #expect(sections[1]["command"] == "/bin/echo \u{1F600}\nmore")
            #expect(sections[1].entry("command")?.location == FileLocation(file: "t.conf", line: 5))
        }
        #expect(INI.lines("a\nb\n").map(String.init) == ["a", "b", ""])
        #expect(INI.lines("").map(String.init) == [""])
    }

    @Test(arguments: [
        ("key = v\n", 1, "outside any [section]"),
        ("[a]\n[a]\n", 2, "already defined"),
        ("[a]\nx = 1\nx = 2\n", 3, "already set"),
        ("[a\n", 1, "closing ]"),
        ("[a]\njunk\n", 2, "expected \"key = value\""),
        ("[]\n", 1, "empty section name"),
    ])
    func errorsCarryLines(_ text: String, _ line: Int, _ fragment: String) {
        do {
            _ = try INI.parse(text, file: "f.conf")
            Issue.record("expected an error")
        } catch {
            #expect(error.location?.line == line)
            #expect(error.description.contains(fragment), "\(error)")
        }
    }

    @Test func includesAndLoops() throws {
        let dir = TempDir("ini")
        try dir.write("main.conf", "[probe]\ntimeout = 1s\n[include]\nfiles = conf.d/*.conf\n")
        try dir.write("conf.d/a.conf", "[hook:a]\ncommand = /bin/true\n")
        try dir.write("conf.d/b.conf", "[hook:b]\ncommand = /bin/true\n")
        let doc = try INI.load(path: dir.file("main.conf"))
        #expect(doc.sections.map(\.name) == ["probe", "hook:a", "hook:b"])
        #expect(doc.files.count == 3)

        try dir.write("loop.conf", "[include]\nfiles = loop.conf\n")
        #expect(throws: ConfigError.self) { try INI.load(path: dir.file("loop.conf")) }
        do { _ = try INI.load(path: dir.file("loop.conf")) } catch {
            #expect(error.description.contains("include loop"))
            #expect(error.location?.line == 2)
        }
        try dir.write("missing.conf", "[include]\nfiles = nothere.conf\n")
        do { _ = try INI.load(path: dir.file("missing.conf")); Issue.record("expected error") } catch {
            #expect(error.description.contains("does not exist"))
            #expect(error.location == FileLocation(file: dir.file("missing.conf"), line: 2))
        }
    }

    /// A binary file given as config (`--config /bin/true`) is named as one, with where its first
    /// NUL byte is, instead of its first "line" as escaped bytes; an included one at the include line.
    @Test func binaryFileIsNamedAsOne() throws {
        let dir = TempDir("ini")
        var bytes = Array("[probe]\ntimeout = 1s\n\u{7f}ELF".utf8) + [0x02, 0x00, 0xff, 0x1b] + Array("\n=x\n".utf8)
        try Platform.writeFileAtomically(dir.file("bin.conf"), bytes, mode: 0o644)
        do { _ = try INI.load(path: dir.file("bin.conf")); Issue.record("expected error") } catch {
            #expect(error.location == nil, "\(error)")
            #expect(error.message == "config file \(dir.file("bin.conf")) is a binary file, not INI text (a NUL byte on line 3)", "\(error)")
        }
        try dir.write("main.conf", "[probe]\ntimeout = 1s\n[include]\nfiles = bin.conf\n")
        do { _ = try INI.load(path: dir.file("main.conf")); Issue.record("expected error") } catch {
            #expect(error.location == FileLocation(file: dir.file("main.conf"), line: 4), "\(error)")
            #expect(error.message.hasPrefix("config file \(dir.file("bin.conf")) is a binary file"), "\(error)")
        }
        // Invalid UTF-8 without a NUL is still read (as supervisord-style text), as before.
        bytes = Array("[probe]\n; caf".utf8) + [0xe9] + Array("\ntimeout = 1s\n".utf8)
        try Platform.writeFileAtomically(dir.file("latin1.conf"), bytes, mode: 0o644)
        #expect(try INI.load(path: dir.file("latin1.conf")).section("probe")?["timeout"] == "1s")
    }
}

@Suite struct JSONTests {
    @Test func roundTrip() throws {
        let v: JSONValue = .object([("a", .string("q\"\\\n\u{01}é🚀")), ("n", .number(2.5)), ("i", .number(3)),
                                    ("l", .array([.bool(true), .null]))])
        let text = JSON.serialize(v)
        #expect(try JSON.parse(text) == v)
        #expect(text.contains("\\u0001"))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "\"\\ud800\"", "[1] x", "nul", "\"a\nb\""])
    func rejects(_ text: String) {
        #expect(throws: JSON.ParseError.self) { try JSON.parse(text) }
    }

    @Test func depthIsBounded() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSON.ParseError.self) { try JSON.parse(deep) }
    }

    /// The parser reads short decimals without strtod (digits / 10^k): each must be the very
    /// double strtod gives (Double(String)), including the long and exponent forms it hands on.
    @Test func numbersAreTheDoublesStrtodGives() throws {
        var texts = ["0", "-0", "7", "-12", "0.1", "0.001", "1796118527.228", "-1796118527.228", "123456789012345",
                     "1234567890123456", "12345678901234567890123", "0.000000000000000000000001", "1.7976931348623157",
                     "9007199254740993", "1e3", "2.5E-3", "-4e+21", "0.30000000000000004", "100.000", "4.35", "1.005"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let whole = UInt64.random(in: 0...9_999_999_999, using: &rng)
            let places = Int.random(in: 0...6, using: &rng)
            let fraction = UInt64.random(in: 0...999_999, using: &rng) % [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000][places]
            let fractionText = places == 0 ? "" : "." + String(repeating: "0", count: places - String(fraction).count) + String(fraction)
            texts.append((Bool.random(using: &rng) ? "-" : "") + String(whole) + fractionText)
        }
        for text in texts {
            guard case .number(let d) = try JSON.parse(text) else { Issue.record("\(text): not a number"); continue }
            let expected = try #require(Double(text))
            #expect(d.bitPattern == expected.bitPattern, "\(text): \(d) != \(expected)")
        }
    }

    @Test func asciiAndUnicodeStringsParse() throws {
        #expect(try JSON.parse("\"plain ascii\"") == .string("plain ascii"))
        #expect(try JSON.parse("\"caf\u{e9} \u{1F680}\"") == .string("caf\u{e9} \u{1F680}"))
        #expect(throws: JSON.ParseError.self) { try JSON.parse([0x22, 0xC3, 0x28, 0x22]) }
    }
}

@Suite struct PlatformTests {
    @Test func atomicWriteReplacesContent() throws {
        let dir = TempDir("plat")
        let p = dir.file("f")
        try Platform.writeFileAtomically(p, Array("one".utf8))
        try Platform.writeFileAtomically(p, Array("two".utf8))
        #expect(try Platform.readTextFile(p) == "two")
        #expect(try Platform.listDirectory(dir.path) == ["f"])
    }

    @Test func readLimitIsEnforced() throws {
        let dir = TempDir("plat")
        try dir.write("big", String(repeating: "x", count: 5000))
        #expect(throws: SystemError.self) { try Platform.readFile(dir.file("big"), limit: 100) }
    }
}

@Suite struct TrimmingTests {
    /// The byte-based trim gives what a trim by Unicode scalars gives (the six ASCII spaces only).
    @Test func trimsOnlyASCIIWhitespaceAtBothEnds() {
        let reference: (String) -> String = { s in
            let scalars = Array(s.unicodeScalars)
            guard let a = scalars.firstIndex(where: { !$0.isASCIIWhitespace }) else { return "" }
            let b = scalars.lastIndex(where: { !$0.isASCIIWhitespace })!
            var v = String.UnicodeScalarView()
            v.append(contentsOf: scalars[a...b])
            return String(v)
        }
        let cases = ["", " ", " \t\r\n\u{0B}\u{0C}", "a", "  a b  ", "\té\u{301} x\u{00A0}\n", "\u{00A0}x\u{2003}", "\r\n", "x\r\n",
                     "ünï cödé ", " 🇫🇷 ", "a\u{0}b "]
        for c in cases {
            #expect(c.trimmingASCIIWhitespace() == reference(c), "\(Array(c.unicodeScalars))")
            let sub = ("[" + c + "]").dropFirst().dropLast()
            #expect(sub.trimmingASCIIWhitespace() == reference(c))
        }
    }
}
