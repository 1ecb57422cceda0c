// Hooks as files (issue #11 items 4, 5, 6, 9; #17 hook messages): byte names, hooks_dir typos,
// what validate reports, owner/mode of hooks and their folders (as `nobody`, via chown; tests run
// as root), and exec of the very file that was checked. Real binary, real files, real processes.
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeSpawn
import ProbeTestSupport
import Glibc

/// Creates a file whose name is raw bytes (not necessarily UTF-8) in `dir`.
func writeBytesNamed(_ dir: String, _ name: [UInt8], _ text: String, mode: mode_t = 0o755) -> Bool {
    let path = Array(dir.utf8) + [UInt8(ascii: "/")] + name
    let cpath = path.map { CChar(bitPattern: $0) } + [0]
    let fd = open(cpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { return false }
    return fchmod(fd, mode) == 0
}

/// The first row of `run --format json`.
func firstCheck(_ v: JSONValue) -> JSONValue? {
    if case .array(let rows)? = v["checks"] { return rows.first }
    return nil
}

/// A config with only hooks_dir (and no start check or SONiC hook).
func hooksDirConfig(_ dir: TempDir, _ hooksDir: String, _ extra: String = "") throws -> String {
    try dir.write("rp.conf", """
        [probe]
        hooks_dir = \(hooksDir)
        sonic_hook =
        rundir = \(dir.path)/run
        [start]
        program =
        \(extra)
        """)
}

@Suite struct HookNameTests {
    /// item 4: a hook named `caf\xe9` (not UTF-8) exiting 42 runs, and is shown escaped.
    @Test func nonUTF8NameRunsAndIsShownEscaped() throws {
        let dir = TempDir("hname")
        try Platform.makeDirectories(dir.file("hooks.d"))
        #expect(writeBytesNamed(dir.file("hooks.d"), Array("caf".utf8) + [0xe9], "#!/bin/sh\necho cafe down\nexit 42\n"))
        let conf = try hooksDirConfig(dir, dir.file("hooks.d"))
        let r = probe(["run", "--config", conf])
        #expect(r.status == 42, "\(r)")
        #expect(r.stdout.hasPrefix("not ready (code 42): caf\\xe9: cafe down"), "\(r.stdout)")
        let json = probe(["run", "--config", conf, "--format", "json"])
        #expect(firstCheck(try JSON.parse(json.stdout))?["name"] == .string("caf\\xe9"), "\(json.stdout)")
        let checks = probe(["checks", "--config", conf])
        #expect(checks.stdout.contains("caf\\xe9"), "\(checks.stdout)")
    }

    /// item 4: a newline in a name never splits the first line of the output.
    @Test func newlineInANameDoesNotSplitTheFirstLine() throws {
        let dir = TempDir("hname")
        try Platform.makeDirectories(dir.file("hooks.d"))
        #expect(writeBytesNamed(dir.file("hooks.d"), Array("a\nready: fake".utf8), "#!/bin/sh\necho broken\nexit 20\n"))
        let conf = try hooksDirConfig(dir, dir.file("hooks.d"))
        let r = probe(["run", "--config", conf, "--format", "summary"])
        #expect(r.status == 20, "\(r)")
        let first = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
        #expect(first == "not ready (code 20): a\\nready: fake: broken", "\(r.stdout)")
    }

    @Test func escaping() {
        #expect(ByteText.display(Array("café".utf8)) == "café")
        #expect(ByteText.display([0x61, 0xe9, 0x62]) == "a\\xe9b")
        #expect(ByteText.display(Array("a\tb\r\n\u{7f}".utf8)) == "a\\tb\\r\\n\\x7f")
        #expect(ByteText.display([0xc3]) == "\\xc3")
        #expect(ByteText.display([0xc2, 0x85]) == "\\xc2\\x85")  // C1 control NEL
    }
}

@Suite struct HooksDirTests {
    /// item 5: a configured hooks_dir that does not exist, or is a file, is code 8 with file:line.
    @Test func missingOrFileHooksDirIsCode8() throws {
        let dir = TempDir("hdir")
        var conf = try hooksDirConfig(dir, dir.file("nonexistent"), "[hook:t]\ncommand = /bin/true")
        for command in ["validate", "run", "checks"] {
            let r = probe([command, "--config", conf])
            #expect(r.status == 8, "\(command): \(r)")
            #expect(r.stderr.contains("\(conf):2: hooks_dir \(dir.file("nonexistent")) does not exist"), "\(r.stderr)")
        }
        let file = try dir.write("plain", "x")
        conf = try hooksDirConfig(dir, file, "[hook:t]\ncommand = /bin/true")
        let r = probe(["validate", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("\(conf):2: hooks_dir \(file) is a regular file, not a directory"), "\(r.stderr)")
    }

    /// item 5: zero checks is code 8 unless `[probe] allow_no_checks = true`.
    @Test func zeroChecksIsCode8UnlessAllowed() throws {
        let dir = TempDir("hdir")
        try Platform.makeDirectories(dir.file("hooks.d"))
        try dir.write("hooks.d/README", "not a hook", mode: 0o644)
        let conf = try hooksDirConfig(dir, dir.file("hooks.d"))
        for command in ["run", "validate", "wait"] {
            let r = probe([command, "--config", conf])
            #expect(r.status == 8, "\(command): \(r)")
            #expect(r.stderr.contains("no checks configured in \(conf)"), "\(r.stderr)")
            #expect(r.stderr.contains("\(dir.file("hooks.d/README")) (not executable (mode 644))"), "\(r.stderr)")
            #expect(r.stderr.contains("allow_no_checks = true"), "\(r.stderr)")
        }
        let text = "[probe]\nallow_no_checks = true\nhooks_dir =\nsonic_hook =\nrundir = \(dir.path)/run\n[start]\nprogram =\n"
        let ok = try dir.write("ok.conf", text)
        let r = probe(["run", "--config", ok])
        #expect(r.status == 0, "\(r)")
    }

    /// item 5: validate and checks list every hooks.d entry that is skipped, and why.
    @Test func skippedEntriesAreListedWithTheirReason() throws {
        let dir = TempDir("hdir")
        let d = dir.file("hooks.d")
        try Platform.makeDirectories(d + "/subdir")
        try dir.script("hooks.d/10-good", "exit 0\n")
        try dir.write("hooks.d/20-noexec", "#!/bin/sh\nexit 0\n", mode: 0o644)
        #expect(symlink(dir.file("gone"), d + "/30-dangling") == 0)
        try dir.script("hooks.d/.hidden", "exit 1\n")
        try dir.script("hooks.d/40-old~", "exit 1\n")
        try dir.script("hooks.d/50-x.dpkg-old", "exit 1\n")
        #expect(mkfifo(d + "/60-fifo", 0o755) == 0)
        let conf = try hooksDirConfig(dir, d)
        let expected = [
            "skipped: \(d)/.hidden: hidden file (name starts with .)",
            "skipped: \(d)/20-noexec: not executable (mode 644)",
            "skipped: \(d)/30-dangling: dangling symbolic link",
            "skipped: \(d)/40-old~: backup file (name ends with ~)",
            "skipped: \(d)/50-x.dpkg-old: package or editor leftover (name ends with .dpkg-old)",
            "skipped: \(d)/60-fifo: a FIFO, not a regular file",
            "skipped: \(d)/subdir: a directory",
        ]
        let v = probe(["validate", "--config", conf])
        #expect(v.status == 0, "\(v)")
        #expect(v.stdout.hasPrefix("ok: \(conf): 1 check (10-good)\n"), "\(v.stdout)")
        for line in expected { #expect(v.stdout.contains(line + "\n"), "\(line) in \(v.stdout)") }
        let c = probe(["checks", "--config", conf])
        for line in expected { #expect(c.stdout.contains(line + "\n"), "\(line) in \(c.stdout)") }
        #expect(probe(["run", "--config", conf]).status == 0)
    }
}

@Suite struct ValidateHookTests {
    /// item 6: a [hook:] command that is missing, not executable or a directory: validate exits 8,
    /// naming file:line; a timeout longer than [probe] timeout is a warning line.
    @Test func impossibleHooksFailValidation() throws {
        let dir = TempDir("val")
        let noexec = try dir.write("noexec", "#!/bin/sh\nexit 0\n", mode: 0o644)
        try Platform.makeDirectories(dir.file("adir"))
        let cases: [(String, String)] = [
            (dir.file("missing"), "\(dir.file("missing")) does not exist"),
            (noexec, "\(noexec) is not executable (mode 644); chmod +x \(noexec)"),
            (dir.file("adir"), "\(dir.file("adir")) is a directory, not a regular file"),
            ("no-such-command-xyz", "no-such-command-xyz not found in PATH"),
        ]
        for (command, message) in cases {
            let conf = try hooksDirConfig(dir, "", "[hook:h]\ncommand = \(command) --flag\n")
            let r = probe(["validate", "--config", conf])
            #expect(r.status == 8, "\(command): \(r)")
            #expect(r.stderr.contains("\(conf):7: hook h cannot run: \(message)"), "\(r.stderr)")
        }
    }

    @Test func longTimeoutAndOptionalMissingAreWarnings() throws {
        let dir = TempDir("val")
        let conf = try hooksDirConfig(dir, "", """
            [hook:slow]
            command = /bin/true
            timeout = 10s
            [hook:opt]
            command = \(dir.file("missing"))
            optional = true
            """)
        let r = probe(["validate", "--config", conf])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("warning: \(conf):7: check slow: timeout 10s is longer than [probe] timeout 5s; the overall deadline ends it first (code 9)\n"), "\(r.stdout)")
        #expect(r.stdout.contains("warning: \(conf):10: hook opt (optional) is not installed"), "\(r.stdout)")
    }
}

@Suite struct HookTrustTests {
    func config(_ dir: TempDir, command: String) throws -> String {
        try hooksDirConfig(dir, "", "[hook:h]\ncommand = \(command)\n")
    }

    /// item 9: a hook owned by nobody, or in a folder nobody owns or others can write, is code 7
    /// naming the path and the fix; hooks_dir itself so is code 8.
    @Test(.enabled(if: runningAsRoot, "needs root to chown to nobody"))
    func hookOfAnotherUserIsRefused() throws {
        let dir = TempDir("htrust")
        let hook = try dir.script("bin/h", "echo ran\nexit 0\n")
        #expect(chown(hook, nobody.uid, nobody.gid) == 0)
        let conf = try config(dir, command: hook)
        var r = probe(["run", "--config", conf, "--format", "verbose"])
        #expect(r.status == 7, "\(r)")
        #expect(r.stdout.contains("\(hook) is owned by uid \(nobody.uid), not root; refusing it (chown root \(hook))"), "\(r.stdout)")
        #expect(!r.stdout.contains("ran"))
        #expect(chown(hook, 0, 0) == 0)
        #expect(chown(dir.file("bin"), nobody.uid, nobody.gid) == 0)
        r = probe(["run", "--config", conf, "--format", "verbose"])
        #expect(r.status == 7, "\(r)")
        #expect(r.stdout.contains("\(dir.file("bin")) is owned by uid \(nobody.uid)"), "\(r.stdout)")
        #expect(chown(dir.file("bin"), 0, 0) == 0)
        chmod(dir.file("bin"), 0o777)
        r = probe(["run", "--config", conf, "--format", "verbose"])
        #expect(r.status == 7, "\(r)")
        #expect(r.stdout.contains("chmod go-w \(dir.file("bin"))"), "\(r.stdout)")
        chmod(dir.file("bin"), 0o755)
        #expect(probe(["run", "--config", conf]).status == 0)
    }

    @Test(.enabled(if: runningAsRoot, "needs root to chown to nobody"))
    func hooksDirOfAnotherUserIsCode8() throws {
        let dir = TempDir("htrust")
        try dir.script("hooks.d/10-h", "exit 0\n")
        let conf = try hooksDirConfig(dir, dir.file("hooks.d"))
        #expect(chown(dir.file("hooks.d"), nobody.uid, nobody.gid) == 0)
        var r = probe(["run", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("\(conf):2: hooks_dir \(dir.file("hooks.d")): \(dir.file("hooks.d")) is owned by uid \(nobody.uid)"), "\(r.stderr)")
        #expect(chown(dir.file("hooks.d"), 0, 0) == 0)
        // Sticky and world-writable is not enough for hooks_dir itself: others could add hooks.
        chmod(dir.file("hooks.d"), 0o1777)
        r = probe(["run", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("chmod go-w \(dir.file("hooks.d"))"), "\(r.stderr)")
        chmod(dir.file("hooks.d"), 0o755)
        // A hook in it owned by nobody is refused with 7 (not silently skipped).
        #expect(chown(dir.file("hooks.d/10-h"), nobody.uid, nobody.gid) == 0)
        r = probe(["run", "--config", conf])
        #expect(r.status == 7, "\(r)")
        #expect(r.stdout.hasPrefix("not ready (code 7): 10-h: hook refused: unsafe permissions"), "\(r.stdout)")
    }

    /// item 9: what runs is the file that was checked. A symlink (or another file) swapped in
    /// after the check never runs, and a #! script runs from its fd.
    @Test func swapAfterTheCheckDoesNotChangeWhatRuns() throws {
        let dir = TempDir("swap")
        let hook = try dir.script("h", "echo checked-file\nexit 0\n")
        let evil = try dir.script("evil", "echo swapped-in\ntouch \(dir.file("evil-ran"))\nexit 0\n")
        let opened = HookFile.open(.command(hook), searchPath: nil)
        guard case .success(let file) = opened else { Issue.record("\(opened)"); return }
        // The swap: the checked path becomes a symlink to another script.
        #expect(rename(hook, dir.file("h.old")) == 0)
        #expect(symlink(evil, hook) == 0)
        let outcome = ProcessRunner.shared.runAll([ProcessSpec(argv: [hook], timeout: .seconds(10), executable: file)],
                                                  deadline: .after(.seconds(10)))[0]
        #expect(outcome.termination == .exited(0), "\(outcome)")
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "checked-file\n")
        #expect(!Platform.exists(dir.file("evil-ran")))
    }

    /// #17: one message for a mode-644 hook, in the first line and in the detail.
    @Test func notExecutableIsSaidOnce() throws {
        let dir = TempDir("h644")
        let hook = try dir.write("h", "#!/bin/sh\nexit 0\n", mode: 0o644)
        let conf = try config(dir, command: hook)
        let r = probe(["run", "--config", conf, "--format", "json"])
        #expect(r.status == 7)
        let check = firstCheck(try JSON.parse(r.stdout))
        #expect(check?["detail"] == .string("\(hook) is not executable (mode 644); chmod +x \(hook)"), "\(r.stdout)")
        let s = probe(["run", "--config", conf])
        #expect(s.stdout.hasPrefix("not ready (code 7): h: hook not executable"), "\(s.stdout)")
    }

    /// #17: a missing #! interpreter is named; a script without #! is told to add one.
    @Test func interpreterAndShebangProblemsAreNamed() throws {
        let dir = TempDir("hint")
        let interp = try dir.write("interp", "#!/nonexistent/interp -x\nexit 0\n", mode: 0o755)
        let bare = try dir.write("bare", "echo no shebang\n", mode: 0o755)
        var r = probe(["run", "--config", try config(dir, command: interp)])
        #expect(r.status == 7)
        #expect(r.stdout.hasPrefix("not ready (code 7): h: cannot start: its interpreter /nonexistent/interp (from the #! line) does not exist"), "\(r.stdout)")
        r = probe(["run", "--config", try config(dir, command: bare)])
        #expect(r.status == 7)
        #expect(r.stdout.contains("add a #! line (e.g. #!/bin/sh)"), "\(r.stdout)")
        r = probe(["validate", "--config", try config(dir, command: interp)])
        #expect(r.status == 8 && r.stderr.contains("/nonexistent/interp"), "\(r)")
    }
}
