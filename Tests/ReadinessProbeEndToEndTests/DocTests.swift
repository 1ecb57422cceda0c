// Docs that are executed: every ```console block in README.md and docs/*.md is run against a
// real supervisord set up as the block says, and its output compared with the text.
//
// A block is marked by the line before it (blank lines between are allowed):
//
//     <!-- doctest: tour -->            run it in the fixture "tour" (DocFixtures.swift)
//     <!-- doctest: skip needs podman --> not run; counted, with the reason
//
// An unmarked console block fails, saying how to mark it. In a block, `$ CMD` lines are
// commands (a trailing `\` continues one on the next line); the lines after one are its output
// (stdout and stderr together, as a terminal shows them). All commands of a block run in one
// `bash`, in order, in the fixture's root folder (so `echo $?` works), with `readiness-probe` on
// PATH and the fixture's config in READINESS_PROBE_CONFIG.
//
// Output is compared after normalizing both sides (DocText.normalize): runs of spaces count as one
// (tables), pids, durations, times and run counts are placeholders, and the fixture's temporary
// root is removed from paths (a fixture lays its files out as the docs say: `<root>/etc/readiness-probe`,
// `<root>/run`). `...` in an expected line matches any text; a line that is only `...` matches
// any number of lines.
//
// Run them alone: `swift test --filter DocTests` (DOCTEST_ONLY=README.md for one file).
import Testing
import ProbeTestSupport
import ProbeSupport
import Glibc

/// One ```console block of a doc.
struct DocBlock: Sendable, CustomTestStringConvertible {
    struct Step: Sendable {
        var line: Int
        var command: String
        var expected: [String]
    }
    var file: String          // relative to the package root
    var line: Int             // of the opening fence
    var marker: String?       // the text after `doctest:`, nil when unmarked
    var steps: [Step]
    var problem: String?      // a block that cannot be parsed

    var testDescription: String { "\(file):\(line)" }

    /// "skip REASON" gives the reason.
    var skipReason: String? {
        guard let m = marker, m == "skip" || m.hasPrefix("skip ") else { return nil }
        let r = m.dropFirst(4).trimmingSpaces
        return r.isEmpty ? "no reason given" : r
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

enum DocFiles {
    /// README.md and docs/*.md, relative to the package root, in a stable order.
    static var paths: [String] {
        var files = ["README.md"]
        let docs = ((try? Platform.listDirectory(TestPaths.packageRoot + "/docs")) ?? nil) ?? []
        files += docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        if let only = Platform.environment("DOCTEST_ONLY"), !only.isEmpty {
            files = files.filter { $0 == only || $0.hasSuffix("/" + only) }
        }
        return files
    }

    static func blocks() -> [DocBlock] {
        var all: [DocBlock] = []
        for f in paths {
            guard let text = try? Platform.readTextFile(TestPaths.packageRoot + "/" + f, limit: 1 << 22) else { continue }
            all += parse(text, file: f)
        }
        return all
    }

    /// The console blocks of one markdown text.
    static func parse(_ text: String, file: String) -> [DocBlock] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks: [DocBlock] = []
        var i = 0
        while i < lines.count {
            let trimmed = Substring(lines[i]).trimmingSpaces
            guard trimmed.hasPrefix("```") else { i += 1; continue }
            let indent = lines[i].prefix(while: { $0 == " " }).count
            let info = trimmed.dropFirst(3).trimmingSpaces
            // Find the closing fence.
            var j = i + 1
            while j < lines.count && !Substring(lines[j]).trimmingSpaces.hasPrefix("```") { j += 1 }
            if info == "console" {
                var marker: String? = nil
                var k = i - 1
                while k >= 0 && Substring(lines[k]).trimmingSpaces.isEmpty { k -= 1 }
                if k >= 0 {
                    let prev = Substring(lines[k]).trimmingSpaces
                    if prev.hasPrefix("<!-- doctest:") && prev.hasSuffix("-->") {
                        marker = prev.dropFirst("<!-- doctest:".count).dropLast(3).trimmingSpaces
                    }
                }
                var block = DocBlock(file: file, line: i + 1, marker: marker, steps: [], problem: nil)
                var n = i + 1
                while n < j {
                    var l = lines[n]
                    if l.prefix(indent).allSatisfy({ $0 == " " }) { l = String(l.dropFirst(min(indent, l.count))) }
                    if l.hasPrefix("$ ") || l == "$" {
                        var cmd = String(l.dropFirst(2))
                        let at = n + 1
                        while cmd.hasSuffix("\\") && n + 1 < j {
                            n += 1
                            var c = lines[n]
                            if c.prefix(indent).allSatisfy({ $0 == " " }) { c = String(c.dropFirst(min(indent, c.count))) }
                            cmd += "\n" + c
                        }
                        block.steps.append(.init(line: at, command: cmd, expected: []))
                    } else if block.steps.isEmpty {
                        if !l.trimmingCharacters().isEmpty {
                            block.problem = "\(file):\(n + 1): output before the first `$ ` command line"
                        }
                    } else {
                        block.steps[block.steps.count - 1].expected.append(l)
                    }
                    n += 1
                }
                if block.steps.isEmpty && block.problem == nil { block.problem = "\(file):\(i + 1): a console block with no `$ ` command" }
                blocks.append(block)
            }
            i = j + 1
        }
        return blocks
    }
}

extension String {
    func trimmingCharacters() -> String { Substring(self).trimmingSpaces }
}

/// Comparing a doc's text with real output.
enum DocText {
    static let placeholders: [(pattern: String, replacement: String)] = [
        // ISO 8601 times.
        (#"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"#, "<time>"),
        // supervisord's AUTO log names.
        (#"---supervisor-[A-Za-z0-9_]+\.log"#, "---supervisor-<x>.log"),
        // Durations: 1.2ms, 0s, 300s, 1m30s, 12µs.
        (#"\b\d+(\.\d+)?(ns|µs|us|ms|s|m|h)(\d+(\.\d+)?(ms|s))?\b"#, "<duration>"),
        (#"\bpid \d+"#, "pid <pid>"),
        (#"\bprocess \d+"#, "process <pid>"),
        (#"\b(pids?|uptime) \d+(, \d+)*"#, "pids <pid>"),
        (#"\b\d+ runs?\b"#, "<n> runs"),
        (#"\brun \d+\b"#, "run <n>"),
    ]
    /// JSON number fields that vary from run to run.
    static let jsonPattern = #""([A-Za-z_]*(_ms|_at|_s|time|pid|age|since|seq|_unix)|pid|now|start|stop)": ?-?\d+(\.\d+)?([eE][-+]?\d+)?"#

    static func normalize(_ line: String) -> String {
        var s = ""
        var lastSpace = false
        for ch in line {
            if ch == " " || ch == "\t" {
                if !lastSpace { s.append(" ") }
                lastSpace = true
            } else {
                s.append(ch)
                lastSpace = false
            }
        }
        while s.hasSuffix(" ") { s.removeLast() }
        if let json = try? Regex(jsonPattern) {
            s = s.replacing(json) { m in
                let text = String(s[m.range])
                let key = text.prefix(upTo: text.firstIndex(of: ":")!)
                return "\(key): <n>"
            }
        }
        for (p, r) in placeholders {
            if let re = try? Regex(p) { s = s.replacing(re, with: r) }
        }
        return s
    }

    /// A normalized expected line against a normalized actual line: `...` matches any text.
    static func lineMatches(_ expected: String, _ actual: String) -> Bool {
        guard expected.contains("...") else { return expected == actual }
        let parts = expected.split(separator: "...", omittingEmptySubsequences: false).map(String.init)
        guard actual.hasPrefix(parts[0]) else { return false }
        var rest = Substring(actual.dropFirst(parts[0].count))
        for (idx, part) in parts.enumerated().dropFirst() {
            if idx == parts.count - 1 { return rest.hasSuffix(part) && rest.count >= part.count }
            guard let r = rest.firstRange(of: part) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }

    /// Expected lines (a line of only `...` matches any lines) against actual lines, both normalized.
    static func matches(_ expected: [String], _ actual: [String]) -> Bool {
        // memo[i][j]: expected[i...] matches actual[j...]
        var memo = [[Bool?]](repeating: [Bool?](repeating: nil, count: actual.count + 1), count: expected.count + 1)
        func m(_ i: Int, _ j: Int) -> Bool {
            if let v = memo[i][j] { return v }
            let v: Bool
            if i == expected.count {
                v = j == actual.count
            } else if expected[i] == "..." {
                v = m(i + 1, j) || (j < actual.count && m(i, j + 1))
            } else {
                v = j < actual.count && lineMatches(expected[i], actual[j]) && m(i + 1, j + 1)
            }
            memo[i][j] = v
            return v
        }
        return m(0, 0)
    }

    /// Lines of a text, without trailing blank lines.
    static func lines(_ text: String) -> [String] {
        var l = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while let last = l.last, last.trimmingCharacters().isEmpty { l.removeLast() }
        return l
    }
}

@Suite struct DocTests {
    static let blocks = DocFiles.blocks()

    /// Each console block, run as its marker says.
    @Test(arguments: DocTests.blocks)
    func consoleBlock(_ block: DocBlock) throws {
        if let problem = block.problem {
            Issue.record(Comment(rawValue: problem))
            return
        }
        guard let marker = block.marker else {
            Issue.record(Comment(rawValue: """
                \(block.file):\(block.line): this console block is not marked. Put one of these on the line before it:
                  <!-- doctest: FIXTURE -->        (run it; fixtures: \(DocFixtures.names.joined(separator: ", ")); Tests/ReadinessProbeEndToEndTests/DocFixtures.swift)
                  <!-- doctest: skip REASON -->    (not run, e.g. needs podman; counted)
                or make it a ```sh block if it shows commands without their output.
                """))
            return
        }
        if block.skipReason != nil { return }
        guard let fixture = DocFixtures.named(marker) else {
            Issue.record(Comment(rawValue: "\(block.file):\(block.line): no doc fixture named \"\(marker)\"; there are: \(DocFixtures.names.joined(separator: ", "))"))
            return
        }
        let env = try fixture.setUp()
        defer { env.tearDown() }
        let outputs = try DocRunner.run(block, in: env)
        for (idx, step) in block.steps.enumerated() {
            let actualRaw = idx < outputs.count ? outputs[idx] : "<the command did not run: the block's shell ended early>"
            let actual = DocText.lines(env.mapPaths(actualRaw)).map(DocText.normalize)
            let expected = DocText.lines(step.expected.joined(separator: "\n")).map(DocText.normalize)
            if !DocText.matches(expected, actual) {
                Issue.record(Comment(rawValue: """
                    \(block.file):\(step.line): `\(step.command)` printed something else.
                    --- the doc says:
                    \(step.expected.joined(separator: "\n"))
                    --- the output was (fixture "\(marker)", paths mapped):
                    \(env.mapPaths(actualRaw))
                    --- normalized, expected vs actual:
                    \(expected.joined(separator: "\n"))
                    ---
                    \(actual.joined(separator: "\n"))
                    """))
            }
        }
    }

    /// Counts: how many blocks run, and which are skipped and why (printed; every console block is one or the other).
    @Test func everyConsoleBlockIsRunOrSkippedWithAReason() {
        let run = Self.blocks.filter { $0.marker != nil && $0.skipReason == nil }
        let skipped = Self.blocks.filter { $0.skipReason != nil }
        var lines = ["doc tests: \(Self.blocks.count) console blocks, \(run.count) run, \(skipped.count) skipped"]
        for b in skipped { lines.append("  skipped \(b.file):\(b.line): \(b.skipReason!)") }
        print(lines.joined(separator: "\n"))
        #expect(Platform.environment("DOCTEST_ONLY") != nil || run.count >= 2, "\(lines)")
    }

    /// The parser and matcher themselves (so a broken runner cannot pass every doc).
    @Test func runnerParsesAndCompares() {
        let md = """
            text
            <!-- doctest: tour -->
            ```console
            $ echo a \\
              b
            a b
            $ false
            ```
            ```console
            $ x
            ```
            """
        let b = DocFiles.parse(md, file: "t.md")
        #expect(b.count == 2)
        #expect(b[0].marker == "tour" && b[0].steps.count == 2 && b[0].steps[0].command == "echo a \\\n  b")
        #expect(b[0].steps[0].expected == ["a b"] && b[0].steps[1].expected.isEmpty)
        #expect(b[1].marker == nil)
        #expect(DocText.normalize("start  still running (pid 41, up 2s)") == "start still running (pid <pid>, up <duration>)")
        #expect(DocText.normalize(#"{"duration_ms": 3.4, "code": 2}"#) == #"{"duration_ms": <n>, "code": 2}"#)
        #expect(DocText.matches(["a", "...", "d"], ["a", "b", "c", "d"]))
        #expect(!DocText.matches(["a", "d"], ["a", "b", "d"]))
        #expect(DocText.lineMatches("x [...] y", "x [1, 2] y"))
        #expect(!DocText.lineMatches("x [...] y", "x [1, 2] z"))
        #expect(!DocText.matches(["ready"], ["not ready"]))
    }
}

/// Runs a block's commands in one shell, in the fixture's root, with a deadline.
enum DocRunner {
    static let marker = "@@doctest-step@@"

    static func run(_ block: DocBlock, in env: DocFixtureEnvironment) throws -> [String] {
        var script = "cd '\(env.root)' || exit 99\n"
        // Background jobs a block starts (`serve ... &`) end with the block.
        script += "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n"
        for step in block.steps {
            script += "__rc=$?\nprintf '\\n%s\\n' '\(marker)'\n(exit $__rc)\n{ \(env.rewriteCommand(step.command))\n} 2>&1\n"
        }
        let path = try env.dir.write("doctest.sh", script)
        var environment = env.environment
        let bin = TestPaths.binary
        environment["PATH"] = env.root + "/usr/local/bin:" + String(bin[..<bin.lastIndex(of: "/")!]) + ":" + TestPaths.packageRoot + "/.venv/bin:"
            + (Platform.environment("PATH") ?? "/usr/bin:/bin")
        let r = Command.run(["timeout", "-k", "5", "\(env.timeoutSeconds)", "bash", path], environment: environment)
        if r.status == 124 || r.status == 137 {
            Issue.record(Comment(rawValue: "\(block.file):\(block.line): the block did not finish within \(env.timeoutSeconds)s"))
        }
        var out = r.stdout
        if !r.stderr.isEmpty { out += r.stderr }
        var chunks = out.split(separator: "\n" + marker + "\n", omittingEmptySubsequences: false).map(String.init)
        // The text before the first marker is the `cd` (empty when it worked).
        let prefix = chunks.removeFirst()
        if !prefix.isEmpty { Issue.record(Comment(rawValue: "\(block.file):\(block.line): \(prefix)")) }
        return chunks
    }
}
