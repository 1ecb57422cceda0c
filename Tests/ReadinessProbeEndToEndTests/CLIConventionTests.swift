// The command line's conventions (#17) and its one command table (#12), through the real binary:
// help and examples, version, attached short values, options before the command, `state` usage,
// `--only ''`, relative --rundir, escaped config errors, codes of system errors, the man page
// and the completion scripts (sourced in bash; zsh -n and fish --no-execute where installed).
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import Glibc

/// A tool on PATH, or nil.
func which(_ tool: String) -> String? {
    for dir in (Platform.environment("PATH") ?? "/usr/bin:/bin").split(separator: ":") {
        let p = "\(dir)/\(tool)"
        if Platform.isExecutable(p) { return p }
    }
    return nil
}

@Suite struct CommandTableTests {
    @Test func everyEntryIsNamedAsItsCommand() {
        for c in CLI.table { #expect(c.command.name == c.name, "\(c.name)") }
        #expect(Set(CLI.names).count == CLI.names.count)
        #expect(CLI.command(named: "state") == nil && CLI.isGroup("state") && !CLI.isGroup("run"))
    }

    @Test func everyHelpEndsWithOneToThreeExamples() {
        for c in CLI.commands {
            #expect((1...3).contains(c.spec.examples.count), "\(c.name): \(c.spec.examples.count) examples")
            let r = Command.run([TestPaths.binary] + c.name.split(separator: " ").map(String.init) + ["--help"])
            #expect(r.status == 0, "\(c.name)")
            let tail = r.stdout.split(separator: "\n\n").last.map(String.init) ?? ""
            #expect(tail.hasPrefix("Examples:\n  readiness-probe "), "\(c.name): \(tail)")
            // Every example parses with its command's spec (an example must not rot).
            for e in c.spec.examples {
                var words = e.command.split(separator: " ").map(String.init)
                if let bar = words.firstIndex(where: { $0 == "|" || $0 == ">" }) { words = Array(words[..<bar]) }
                words.removeFirst(c.name.split(separator: " ").count)
                #expect(throws: Never.self, "\(e.command)") { try ArgumentParser.parse(words, c.spec) }
            }
        }
        // A group's help too (`readiness-probe state --help`).
        let group = Command.run([TestPaths.binary, "state", "--help"])
        let groupTail = group.stdout.split(separator: "\n\n").last.map(String.init) ?? ""
        #expect(group.status == 0 && groupTail.hasPrefix("Examples:\n  readiness-probe state "), "\(group.stdout)")
        #expect((1...3).contains(groupTail.split(separator: "\n").filter { $0.hasPrefix("  readiness-probe ") }.count), "\(groupTail)")
        let top = Command.run([TestPaths.binary, "--help"])
        for name in CLI.names { #expect(top.stdout.contains("\n  \(name) "), "\(name) missing from --help") }
        #expect(top.stdout.contains("\nExamples:\n"))
    }
}

@Suite struct CLIConventionTests {
    let bin = TestPaths.binary

    @Test func versionEverywhere() throws {
        let expected = "readiness-probe \(ProbeVersion.string)\n"
        for args in [["--version"], ["-V"], ["version"], ["run", "-V"], ["state", "show", "--version"]] {
            let r = Command.run([bin] + args)
            #expect(r.status == 0 && r.stdout == expected, "\(args): \(r.stdout)")
        }
        // CHANGELOG.md's newest release is this version (Keep a Changelog: `## [X.Y.Z] - DATE`).
        let changelog = try Platform.readTextFile(TestPaths.packageRoot + "/CHANGELOG.md")
        let release = changelog.split(separator: "\n").first { $0.hasPrefix("## [") && !$0.hasPrefix("## [Unreleased]") }
        #expect(release?.hasPrefix("## [\(ProbeVersion.string)] - ") == true, "CHANGELOG.md: \(release ?? "no release")")
        // The Makefile's VERSION (the package's) is read from the same line.
        let make = Command.run(["make", "-s", "-C", TestPaths.packageRoot, "print-version"])
        #expect(make.stdout == ProbeVersion.string + "\n", "\(make.stdout) \(make.stderr)")
    }

    @Test func attachedShortValues() throws {
        let dir = TempDir("cli")
        defer { dir.remove() }
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\n[start]\nprogram =\n[hook:slow]\ncommand = /bin/sleep 5\ntimeout = 4s\n")
        // -t300ms is the overall deadline: the hook is killed at it (code 9), not at its own 4s (6).
        let r = Command.run([bin, "run", "-c\(conf)", "-t300ms", "-ojson"])
        #expect(r.status == Codes.deadlineExceeded, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.hasPrefix("{"), "\(r.stdout)")
        // A flag with something attached is still an unknown option.
        #expect(Command.run([bin, "serve", "-qx"], environment: ["READINESS_PROBE_CONFIG": conf]).status == 8)
    }

    @Test func optionsBeforeTheCommand() throws {
        let dir = TempDir("cli")
        defer { dir.remove() }
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\n[start]\nprogram =\n[hook:alpha]\ncommand = /bin/true\n")
        let r = Command.run([bin, "--config", conf, "checks"])
        #expect(r.status == 0 && r.stdout.contains("config: \(conf)") && r.stdout.contains("alpha"), "\(r.stdout) \(r.stderr)")
        let j = Command.run([bin, "-c", conf, "--format", "json", "checks"])
        #expect(j.status == 0 && j.stdout.hasPrefix("{\"schema\": \"readiness-probe/checks/1\""), "\(j.stderr)")
        // Options `run` does not know, before a two-word command.
        let s = Command.run([bin, "--unit", "app", "--rundir", dir.path, "state", "show"])
        #expect(s.status == 5 && s.stdout.hasPrefix("app: unhealthy"), "\(s.stdout) \(s.stderr)")
        // With no command word, the options are run's.
        #expect(Command.run([bin, "--config", conf, "-o", "json"]).stdout.hasPrefix("{"))
    }

    @Test func stateWithoutSubcommandIsAUsageError() {
        let r = Command.run([bin, "state"])
        #expect(r.status == 8)
        #expect(r.stdout.isEmpty && r.stderr.contains("Usage: readiness-probe state SUBCOMMAND") && r.stderr.contains("state set"))
        let bogus = Command.run([bin, "state", "bogus"])
        #expect(bogus.status == 8 && bogus.stderr.contains("unknown subcommand \"bogus\""))
        let help = Command.run([bin, "state", "--help"])
        #expect(help.status == 0 && help.stdout.contains("Subcommands:"))
    }

    @Test func stateSetAfterDoubleDash() throws {
        let dir = TempDir("cli")
        defer { dir.remove() }
        for (args, value) in [(["--", "-1"], "-1"), (["--", "7"], "7"), (["-3"], "-3")] {
            let r = Command.run([bin, "state", "set", "--unit", "app", "--rundir", dir.path] + args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect(try Platform.readTextFile(dir.file("app/error")) == value)
        }
        #expect(Command.run([bin, "state", "set", "--unit", "app", "--rundir", dir.path, "--", "1", "2"]).status == 8)
    }

    @Test func emptyCheckListsAreErrors() throws {
        let dir = TempDir("cli")
        defer { dir.remove() }
        let conf = try dir.write("rp.conf", "[probe]\nrundir = \(dir.path)/run\n[start]\nprogram =\n[hook:alpha]\ncommand = /bin/true\n")
        for args in [["--only", ""], ["--only", ","], ["--only=", "--only", "alpha"], ["--exclude", " "]] {
            let r = Command.run([bin, "run", "--config", conf] + args)
            #expect(r.status == 8, "\(args)")
            #expect(r.stderr.contains("needs one or more check names"), "\(args): \(r.stderr)")
        }
        #expect(Command.run([bin, "wait", "--config", conf, "--only", ""]).status == 8)
        #expect(Command.run([bin, "run", "--config", conf, "--only", "alpha"]).status == 0)
    }

    @Test func relativeRundirIsRefused() {
        for cmd in [["state", "set", "0"], ["state", "show"], ["state", "load"], ["state", "reset"]] {
            let r = Command.run([bin] + cmd + ["--unit", "app", "--rundir", "run"])
            #expect(r.status == 8, "\(cmd)")
            #expect(r.stderr.contains("--rundir must be an absolute path"), "\(cmd): \(r.stderr)")
        }
    }

    @Test func binaryConfigIsEscaped() throws {
        let dir = TempDir("cli")
        defer { dir.remove() }
        var bytes: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x1b, 0x5b, 0x32, 0x4a, 0x00, 0xff, 0xfe, 0x9b]
        bytes += Array("=x\n".utf8)
        let path = dir.file("bin.conf")
        try Platform.writeFileAtomically(path, bytes, mode: 0o644)
        let r = Command.run([bin, "validate", "--config", path])
        #expect(r.status == 8)
        let bad = r.stderr.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7f...0x9f).contains($0.value) || $0.value == 0xfffd }
        #expect(bad.isEmpty, "raw bytes on stderr: \(bad.map(\.value))")
        // It has a NUL byte: named as a binary file, not quoted (`--config /bin/true` by mistake).
        #expect(r.stderr == "readiness-probe: invalid configuration: config file \(path) is a binary file, not INI text (a NUL byte on line 1)\n", "\(r.stderr)")
        // Control bytes in a text file are escaped where the message quotes them.
        let text = dir.file("ctl.conf")
        try Platform.writeFileAtomically(text, [0x7f, 0x45, 0x4c, 0x46, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x9b] + Array("\n".utf8), mode: 0o644)
        let t = Command.run([bin, "validate", "--config", text])
        #expect(t.status == 8)
        #expect(t.stderr.contains("\"\\x7fELF\\x1b[2J\\ufffd\\ufffd\" is outside any [section]"), "\(t.stderr)")
    }

    @Test func escapingControls() {
        #expect(CLI.escapingControls("a\tb\nc") == "a\tb\nc")
        #expect(CLI.escapingControls("\u{1b}[31m\u{7f}\u{85}\u{fffd}é") == "\\x1b[31m\\x7f\\x85\\ufffdé")
        #expect(CLI.escapingControls(String(repeating: "x", count: 10_000)).hasSuffix("... (6000 more bytes)"))
    }

    @Test func serveBindFailureIsASystemError() throws {
        // Hold a port, then ask serve for it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        try #require(bound)
        let port = UInt16(bigEndian: addr.sin_port)
        let dir = TempDir("bind")
        let r = Command.run([bin, "serve", "--listen", "127.0.0.1:\(port)"], environment: ["READINESS_PROBE_CONFIG": try RundirGuard.ownConfig(dir)])
        #expect(r.status == Codes.systemError, "\(r.stderr)")
        #expect(r.stderr.contains("127.0.0.1:\(port)"), "\(r.stderr)")
        #expect(Codes.info(Codes.systemError)?.name == "system-error")
    }

    @Test func signalNamesComeFromOneTable() {
        #expect(Signals.name(SIGKILL) == "SIGKILL" && Signals.name(SIGTERM) == "SIGTERM" && Signals.name(SIGCHLD) == "SIGCHLD")
        #expect(Signals.name(64) == "signal 64")
    }
}

@Suite struct ManPageTests {
    @Test func generatedFromTheTables() throws {
        let r = Command.run([TestPaths.binary, "man"])
        #expect(r.status == 0)
        let page = r.stdout
        #expect(page.hasPrefix(".\\\" Generated") && page.contains(".TH READINESS\\-PROBE 1"))
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
            #expect(page.contains("\n.SH \(section)\n"), "\(section)")
        }
        for c in CLI.commands {
            #expect(page.contains(".SS \"\(ManPage.escape(c.name))"), "\(c.name)")
            for o in c.spec.options where o.name != "--help" && o.name != "--version" {
                #expect(page.contains("\\fB\(ManPage.escape(o.name))\\fR"), "\(c.name) \(o.name)")
            }
        }
        let exit = page.split(separator: ".SH EXIT STATUS")[1].split(separator: ".SH ENVIRONMENT")[0]
        for row in Codes.table { #expect(exit.contains(".B \(ManPage.escape(row.label))\n\(ManPage.escape(row.name)): "), "\(row.label)") }
        #expect(page.contains(ManPage.escape(ProbeSettings.defaultConfigPath)))
        #expect(page.contains("READINESS_PROBE_CONFIG"))
    }

    /// Every environment variable the product reads is in ENVIRONMENT (found in the sources, so a
    /// new one cannot be forgotten).
    @Test func environmentSectionNamesEveryVariableRead() throws {
        let page = Command.run([TestPaths.binary, "man"]).stdout
        let env = page.split(separator: ".SH ENVIRONMENT")[1].split(separator: ".SH FILES")[0]
        let sources = ["ReadinessProbe", "SupervisorKit", "ProbeState", "ProbeSupport"].map { TestPaths.packageRoot + "/Sources/" + $0 }
        let r = Command.run(["grep", "-rhoE", #"(environment|env)\["[A-Z_]+"\]|Variable = "[A-Z_]+""#] + sources)
        let names = Set(r.stdout.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: "\"")
            return parts.count >= 2 ? String(parts[1]) : nil
        }).subtracting(["PATH"])
        #expect(names.count >= 10, "\(names)")
        for name in names { #expect(env.contains(".B \(ManPage.escape(name))\n"), "\(name) is read but not in the man page's ENVIRONMENT") }
    }

    @Test(.enabled(if: which("groff") != nil, "needs groff (Tests/deps.sh installs groff-base)"))
    func groffHasNoWarnings() throws {
        let dir = TempDir("man")
        defer { dir.remove() }
        let page = try dir.write("readiness-probe.1", Command.run([TestPaths.binary, "man"]).stdout)
        let r = Command.run(["groff", "-ww", "-z", "-man", "-Tutf8", page])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
        if which("man") != nil {
            let m = Command.run(["man", "-l", page], environment: ["MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"])
            #expect(m.status == 0 && m.stdout.contains("EXIT STATUS") && m.stdout.contains("readiness-probe state set"), "\(m.stderr)")
        }
    }
}

@Suite struct CompletionTests {
    func script(_ shell: String, in dir: TempDir) throws -> String {
        let r = Command.run([TestPaths.binary, "completion", shell])
        #expect(r.status == 0, "\(r.stderr)")
        return try dir.write("completion.\(shell)", "\(r.stdout)")
    }

    /// A PATH whose `readiness-probe` is the binary under test (the scripts call it for check names).
    func path(_ dir: TempDir) throws -> String {
        try dir.write("bin/.keep", "")
        #expect(symlink(TestPaths.binary, dir.file("bin/readiness-probe")) == 0)
        return dir.file("bin") + ":" + (Platform.environment("PATH") ?? "/usr/bin:/bin")
    }

    /// An example that installs a script writes it where the package does (a folder the shell's
    /// completion package creates: bookworm's bash-completion has no /etc/bash_completion.d).
    @Test func installExamplesUseThePackagesPaths() throws {
        let build = try Platform.readTextFile(TestPaths.packageRoot + "/packaging/deb/build.sh")
        let installs = CompletionCommand.spec.examples.compactMap { e -> String? in
            let words = e.command.split(separator: " ")
            guard let gt = words.firstIndex(of: ">"), gt + 1 < words.count else { return nil }
            return String(words[gt + 1])
        }
        #expect(!installs.isEmpty)
        for target in installs { #expect(build.contains("\"$ROOT\(target)\""), "\(target) is not where packaging/deb/build.sh installs it") }
    }

    /// `listen --help` (and so the man page) names the events docs/event-listener.md and the example
    /// supervisord.conf subscribe to: pasting the help's line must not lose SUPERVISOR_STATE_CHANGE.
    @Test func listenHelpNamesTheDocumentedEvents() throws {
        let help = Command.run([TestPaths.binary, "listen", "--help"]).stdout
        for file in ["/docs/event-listener.md", "/examples/container/supervisord.conf", "/README.md"] {
            let text = try Platform.readTextFile(TestPaths.packageRoot + file)
            let line = text.split(separator: "\n").first { $0.hasPrefix("events=PROCESS_STATE") }
            #expect(line.map { String($0.prefix { $0 != " " }) } == "events=\(ListenCommand.events)", "\(file): \(line ?? "none")")
        }
        #expect(help.contains("events=\(ListenCommand.events)") && help.contains("[eventlistener:readiness]"), "\(help)")
        #expect(!help.contains("events=PROCESS_STATE,PROCESS_GROUP,TICK_5)"), "\(help)")
    }

    @Test func unknownShellIsAUsageError() {
        #expect(Command.run([TestPaths.binary, "completion", "tcsh"]).status == 8)
        #expect(Command.run([TestPaths.binary, "completion"]).status == 8)
    }

    @Test func bashCompletesCommandsOptionsFormatsAndCheckNames() throws {
        let dir = TempDir("comp")
        defer { dir.remove() }
        let file = try script("bash", in: dir)
        let conf = try dir.write("rp.conf", "[start]\nprogram =\n[hook:alpha]\ncommand = /bin/true\n[hook:beta]\ncommand = /bin/true\n")
        let probe = """
            source \(file)
            complete -p readiness-probe
            t() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _readiness_probe; echo "${COMPREPLY[*]}"; }
            t readiness-probe ""
            t readiness-probe state ""
            t readiness-probe run --format ""
            t readiness-probe codes -o ""
            t readiness-probe --config \(conf) --only ""
            t readiness-probe wait -c \(conf) --exclude alpha,
            t readiness-probe serve --q
            t readiness-probe report ""
            t readiness-probe state show --format ""
            """
        let r = Command.run(["bash", "-c", probe], environment: ["PATH": try path(dir)])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(lines.count >= 10, "\(r.stdout)")
        #expect(lines[0] == "complete -F _readiness_probe readiness-probe")
        // Every command word of the table, in its order (a group such as `state` once).
        var words: [String] = []
        for c in CLI.table { let w = String(c.name.split(separator: " ")[0]); if !words.contains(w) { words.append(w) } }
        #expect(lines[1] == words.joined(separator: " "))
        #expect(words.starts(with: ["run", "codes", "checks", "validate", "listen", "serve", "wait"]))
        #expect(lines[2] == "load set reset show")
        #expect(lines[3] == OutputFormat.allCases.map(\.rawValue).joined(separator: " "))
        #expect(lines[4] == "table json")
        #expect(lines[5] == "alpha beta")
        #expect(lines[6] == "alpha,alpha alpha,beta")
        #expect(lines[7] == "--quiet")
        #expect(lines[8] == "kuberhealthy")
        #expect(lines[9] == "text json")
    }

    @Test(.enabled(if: which("zsh") != nil, "needs zsh (Tests/deps.sh installs it)"))
    func zshSyntax() throws {
        let dir = TempDir("comp")
        defer { dir.remove() }
        let file = try script("zsh", in: dir)
        let r = Command.run(["zsh", "-n", file])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
        let text = try Platform.readTextFile(file)
        #expect(text.hasPrefix("#compdef readiness-probe\n"))
        for c in CLI.commands { for o in c.spec.options { #expect(text.contains(o.name), "\(c.name) \(o.name)") } }
        #expect(text.contains("(" + OutputFormat.allCases.map(\.rawValue).joined(separator: " ") + ")") && text.contains("_readiness_probe_checks"))
        // compinit registers it for the command, from its #compdef line, as it would from vendor-completions.
        try Platform.makeDirectories(dir.file("fpath"))
        _ = try dir.write("fpath/_readiness-probe", text)
        let reg = Command.run(["zsh", "-f", "-c", "fpath=(\(dir.file("fpath")) $fpath); autoload -Uz compinit; compinit -u -D; print -r -- $_comps[readiness-probe]"],
                              environment: ["HOME": dir.path])
        #expect(reg.stdout == "_readiness-probe\n", "\(reg.stdout) \(reg.stderr)")
    }

    @Test(.enabled(if: which("fish") != nil, "needs fish (Tests/deps.sh installs it)"))
    func fishSyntaxAndCompletions() throws {
        let dir = TempDir("comp")
        defer { dir.remove() }
        let file = try script("fish", in: dir)
        let syntax = Command.run(["fish", "--no-execute", file])
        #expect(syntax.status == 0 && syntax.stderr.isEmpty, "\(syntax.stderr)")
        let conf = try dir.write("rp.conf", "[start]\nprogram =\n[hook:alpha]\ncommand = /bin/true\n")
        let r = Command.run(["fish", "--no-config", "-c", """
            source \(file)
            complete -C 'readiness-probe state s'
            echo ==
            complete -C 'readiness-probe -c \(conf) --only '
            echo ==
            complete -C 'readiness-probe codes --format '
            """], environment: ["PATH": try path(dir), "HOME": dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let parts = r.stdout.split(separator: "==\n", omittingEmptySubsequences: false).map { $0.split(separator: "\n").map { String($0.prefix { $0 != "\t" }) } }
        try #require(parts.count == 3, "\(r.stdout)")
        #expect(parts[0] == ["set", "show"])
        #expect(parts[1] == ["alpha"])
        #expect(Set(parts[2]) == ["table", "json"])
    }
}
