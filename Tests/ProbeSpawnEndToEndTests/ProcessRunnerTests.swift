// ProcessRunner against real processes: exit statuses, signals, spawn failures, timeouts that
// kill whole process groups, bounded capture of large output, concurrency on one loop.
@preconcurrency import Glibc
import ProbeSupport
import ProbeTestSupport
@testable import ProbeSpawn
import Testing

private let runner = ProcessRunner.shared

private func sh(_ script: String, timeout: Duration = .seconds(10), limit: Int = 4096) -> ProcessSpec {
    ProcessSpec(argv: ["/bin/sh", "-c", script], timeout: timeout, outputLimit: limit)
}

private func run(_ spec: ProcessSpec, deadline: Deadline = .after(.seconds(20))) async -> ProcessOutcome {
    await runner.run(spec, deadline: deadline)
}

private func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self).trimmingASCIIWhitespace()
}

/// Processes (zombies included) whose process group is `pgid`.
private func groupMembers(_ pgid: Int32) -> [Int32] {
    (try? Platform.listDirectory("/proc"))?.compactMap { name -> Int32? in
        guard let pid = Int32(name), let st = Reaper.procStat(pid), st.pgrp == pgid else { return nil }
        return pid
    } ?? []
}

/// Zombie children of this test process that belong to `pgid`.
private func zombieChildren(inGroup pgid: Int32) -> [Int32] {
    let me = getpid()
    return groupMembers(pgid).filter { pid in
        guard let st = Reaper.procStat(pid) else { return false }
        return st.ppid == me && st.state == "Z"
    }
}

@Suite struct ExitStatusTests {
    @Test(arguments: [0, 1, 3, 42, 255] as [Int32])
    func exitStatusPassesThrough(_ code: Int32) async {
        let o = await run(sh("exit \(code)"))
        #expect(o.termination == .exited(code))
        #expect(o.pid > 0)
        #expect(o.duration < .seconds(5))
    }

    @Test func signalIsReported() async {
        let o = await run(sh("kill -SEGV $$"))
        #expect(o.termination == .signaled(SIGSEGV))
    }

    @Test func outputIsCapturedSeparately() async {
        let o = await run(sh("echo out; echo err >&2; echo more"))
        #expect(text(o.stdout) == "out\nmore")
        #expect(text(o.stderr) == "err")
        #expect(o.stdoutDropped == 0 && o.stderrDropped == 0)
        #expect(o.firstOutputLine == "out")
    }

    @Test func bareNameIsFoundInPath() async {
        let o = await run(ProcessSpec(argv: ["sh", "-c", "echo $0"]))
        #expect(o.termination == .exited(0))
        #expect(text(o.stdout) == "sh")
    }

    @Test func environmentAndWorkingDirectory() async {
        let dir = TempDir("spawn")
        let o = await run(ProcessSpec(argv: ["/bin/sh", "-c", "echo $GREETING; pwd"], environment: ["GREETING=hi"],
                                      workingDirectory: dir.path))
        #expect(o.termination == .exited(0))
        let lines = text(o.stdout).split(separator: "\n").map(String.init)
        #expect(lines.first == "hi")
        #expect(lines.last.flatMap { Platform.realPath($0) } == Platform.realPath(dir.path))
    }
}

/// The errno and message of a `.spawnFailed` outcome; records an issue for any other outcome.
private func spawnFailure(_ o: ProcessOutcome, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> (Int32, String)? {
    guard case .spawnFailed(let e, let message) = o.termination else {
        Issue.record("expected spawnFailed, got \(o.termination)", sourceLocation: sourceLocation)
        return nil
    }
    return (e, message)
}

@Suite struct SpawnFailureTests {
    @Test func missingPath() async {
        let o = await run(ProcessSpec(argv: ["/nonexistent/dir/hook", "x"]))
        guard let (e, message) = spawnFailure(o) else { return }
        #expect(e == ENOENT)
        #expect(message.contains("/nonexistent/dir/hook"))
        #expect(message.contains("No such file"))
    }

    /// A file that is not executable (EACCES), and an executable that is not a program (ENOEXEC).
    @Test(arguments: [("#!/bin/sh\nexit 0\n", 0o644, EACCES, "it is not executable (mode 644)"),
                      ("\u{1}\u{2}garbage without a #! line\n", 0o755, ENOEXEC, "add a #! line (e.g. #!/bin/sh)"),
                      ("#!/nonexistent/interp -x\nexit 0\n", 0o755, ENOENT, "its interpreter /nonexistent/interp (from the #! line) does not exist")]
          as [(String, Int, Int32, String)])
    func unrunnableFile(content: String, mode: Int, expected: Int32, reason: String) async throws {
        let dir = TempDir("spawn")
        let path = try dir.write("hook", content, mode: mode_t(mode))
        let o = await run(ProcessSpec(argv: [path]))
        guard let (e, message) = spawnFailure(o) else { return }
        #expect(e == expected)
        #expect(message.contains(path))
        #expect(message.contains(reason))
    }

    @Test func bareNameNotInPath() async {
        let o = await run(ProcessSpec(argv: ["no-such-program-xyz"]))
        guard let (e, message) = spawnFailure(o) else { return }
        #expect(e == ENOENT)
        #expect(message.contains("no-such-program-xyz"))
        #expect(message.contains("not found in PATH"))
    }

    @Test func emptyArgvAndBadWorkingDirectory() async {
        let empty = await run(ProcessSpec(argv: []))
        guard let (e1, _) = spawnFailure(empty) else { return }
        #expect(e1 == EINVAL)
        let badDir = await run(ProcessSpec(argv: ["/bin/true"], workingDirectory: "/nonexistent/wd"))
        guard let (e2, m2) = spawnFailure(badDir) else { return }
        #expect(e2 == ENOENT)
        #expect(m2.contains("/nonexistent/wd"))
    }
}

/// Wall-time checks say "did not wait for the 30 s sleep", not how fast: `slack` leaves room for
/// a loaded 2-core machine (the real figures are in `make bench`).
private let slack: Duration = .seconds(10)

@Suite struct KillAndReapTests {
    @Test func timeoutKillsTheWholeGroup() async {
        let clock = ContinuousClock()
        let start = clock.now
        let o = await run(sh("sleep 30 & sleep 30", timeout: .milliseconds(200)))
        let wall = clock.now - start
        print("sh -c 'sleep 30 & sleep 30', 200 ms timeout: \(wall)")
        #expect(o.termination == .timedOut)
        #expect(wall < slack, "took \(wall)")
        #expect(o.duration >= .milliseconds(200))
        #expect(groupMembers(o.pid).isEmpty, "left in group \(o.pid): \(groupMembers(o.pid))")
        #expect(zombieChildren(inGroup: o.pid).isEmpty)
    }

    @Test func straglersAreKilledAfterANormalExit() async {
        let clock = ContinuousClock()
        let start = clock.now
        let o = await run(sh("sleep 30 & echo $!; exit 0", timeout: .seconds(10)))
        let wall = clock.now - start
        #expect(o.termination == .exited(0))
        #expect(wall < slack, "took \(wall)")
        let sleeper = Int32(text(o.stdout)) ?? 0
        #expect(sleeper > 0)
        #expect(!Platform.processExists(sleeper), "background sleep \(sleeper) survived")
        #expect(groupMembers(o.pid).isEmpty)
    }

    @Test func closedStdoutStillTimesOut() async {
        let clock = ContinuousClock()
        let start = clock.now
        let o = await run(sh("exec >&-; sleep 30", timeout: .milliseconds(300)))
        let wall = clock.now - start
        #expect(o.termination == .timedOut)
        #expect(wall < slack, "took \(wall)")
        #expect(groupMembers(o.pid).isEmpty)
    }

    @Test func deadlineBeforeTimeout() async {
        let clock = ContinuousClock()
        let start = clock.now
        let o = await run(sh("sleep 30", timeout: .seconds(10)), deadline: .after(.milliseconds(200)))
        let wall = clock.now - start
        #expect(o.termination == .deadlineExceeded)
        #expect(wall < slack, "took \(wall)")
        #expect(groupMembers(o.pid).isEmpty)
    }

    @Test func passedDeadlineStartsNothing() async {
        let o = await run(sh("exit 0"), deadline: Deadline(.now - .milliseconds(1)))
        #expect(o.termination == .deadlineExceeded)
        #expect(o.pid == 0)
    }

    /// A grandchild that leaves the group (setsid) and keeps stdout open does not hold up the
    /// result; once it exits, the runner (a child subreaper) reaps it, so no zombie stays.
    @Test func orphanHoldingThePipeIsNotWaitedForAndIsReaped() async {
        let clock = ContinuousClock()
        let start = clock.now
        // The leader waits until the orphan has its own session (field 6 of stat), so that the
        // group kill cannot catch it before it has left the group.
        // The orphan would live 60 s; a result within 10 s did not wait for it.
        let o = await run(sh("""
            setsid sleep 60 & p=$!
            until [ "$(cut -d' ' -f6 /proc/$p/stat)" = "$p" ]; do :; done
            echo $p; exit 7
            """, timeout: .seconds(20)))
        let wall = clock.now - start
        #expect(o.termination == .exited(7))
        #expect(wall < .seconds(10), "waited for the orphan's pipe: \(wall)")
        let orphan = Int32(text(o.stdout)) ?? 0
        #expect(orphan > 0)
        // It exits now (instead of in 60 s): the runner must reap it.
        #expect(orphan > 0 && kill(orphan, SIGTERM) == 0)
        #expect(Wait.until(timeout: .seconds(30)) { !Platform.processExists(orphan) },
                "orphan \(orphan) still in /proc (zombie?)")
    }

    @Test func cancellationKillsTheChild() async {
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task { await run(sh("sleep 30", timeout: .seconds(20))) }
        try? await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let o = await task.value
        #expect(o.termination == .deadlineExceeded)
        #expect(clock.now - start < slack)
    }
}

@Suite struct OutputTests {
    @Test func fiftyMegabytesOnEachPipeAreDrainedAndCounted() async {
        let size = 52_428_800
        let limit = 4096
        let o = await run(sh("head -c \(size) /dev/zero & head -c \(size) /dev/zero >&2; wait",
                             timeout: .seconds(30), limit: limit))
        print("50 MB stdout + 50 MB stderr: \(o.duration)")
        #expect(o.termination == .exited(0))
        #expect(o.stdout.count == limit)
        #expect(o.stderr.count == limit)
        #expect(o.stdoutDropped == size - limit)
        #expect(o.stderrDropped == size - limit)
    }

    @Test func firstLineSkipsBlankLinesTrimsAndCuts() {
        #expect(ProcessOutcome.firstLine(Array("\n  \n  hello world  \nsecond".utf8)) == "hello world")
        #expect(ProcessOutcome.firstLine(Array(repeating: UInt8(ascii: "a"), count: 500)).count == 200)
        #expect(ProcessOutcome.firstLine(Array("abcdef".utf8), limit: 3) == "abc")
        #expect(ProcessOutcome.firstLine([0x66, 0xFF, 0x6F]) == "f\u{FFFD}o")
        #expect(ProcessOutcome.firstLine(Array("a\tb\u{1B}c\r\n".utf8)) == "a b c")
        #expect(ProcessOutcome.firstLine([]) == "")
        let onlyErr = ProcessOutcome(termination: .exited(1), stdout: Array(" \n".utf8), stderr: Array("boom\n".utf8))
        #expect(onlyErr.firstOutputLine == "boom")
    }
}

@Suite struct ChildEnvironmentTests {
    @Test func stdinIsDevNull() async {
        let o = await run(ProcessSpec(argv: ["cat"], timeout: .seconds(5)))
        #expect(o.termination == .exited(0))
        #expect(o.stdout.isEmpty)
        let link = await run(sh("readlink /proc/$$/fd/0"))
        #expect(text(link.stdout) == "/dev/null")
    }

    @Test func childLeadsItsOwnProcessGroup() async {
        let o = await run(sh("cut -d' ' -f5 /proc/$$/stat"))
        #expect(o.termination == .exited(0))
        #expect(Int32(text(o.stdout)) == o.pid)
        #expect(o.pid != getpgrp())
    }

    @Test func onlyStandardDescriptorsAreOpen() async {
        let o = await run(sh("ls /proc/$$/fd"))
        #expect(text(o.stdout).split(separator: "\n").sorted() == ["0", "1", "2"])
    }

    @Test func signalsAreDefaultAndUnblockedInTheChild() async {
        Platform.ignoreSIGPIPE() // as the probe does; the child must not inherit it
        // The shell's builtins only: a forked helper would see the shell's mask while it forks.
        let o = await run(sh("while read -r l; do case $l in SigIgn:*|SigBlk:*) echo \"$l\";; esac; done < /proc/$$/status"))
        #expect(o.termination == .exited(0))
        var masks: [String: UInt64] = [:]
        for line in text(o.stdout).split(separator: "\n") {
            let parts = line.split(separator: ":")
            if parts.count == 2 { masks[String(parts[0])] = UInt64(parts[1].trimmingASCIIWhitespace(), radix: 16) }
        }
        let sigpipeBit: UInt64 = 1 << (UInt64(SIGPIPE) - 1)
        #expect(masks["SigIgn"].map { $0 & sigpipeBit == 0 } == true, "SigIgn \(masks)")
        #expect(masks["SigBlk"] == 0)
    }
}

@Suite struct ConcurrencyTests {
    @Test func twentyChildrenRunConcurrentlyOnOneLoop() async {
        let clock = ContinuousClock()
        let start = clock.now
        // One after another this would take over 20 s (16 x 1 s, 4 x 1 s timeouts); together about 1 s.
        let specs = (0..<20).map { i in i < 16 ? sh("sleep 1", timeout: .seconds(20)) : sh("sleep 30", timeout: .seconds(1)) }
        let outcomes = await withTaskGroup(of: (Int, ProcessOutcome).self) { group in
            for (i, spec) in specs.enumerated() {
                group.addTask { (i, await run(spec)) }
            }
            var all: [Int: ProcessOutcome] = [:]
            for await (i, o) in group { all[i] = o }
            return all
        }
        let wall = clock.now - start
        print("20 concurrent children: \(wall)")
        #expect(wall < slack, "took \(wall)")
        #expect((0..<16).allSatisfy { outcomes[$0]?.termination == .exited(0) })
        #expect((16..<20).allSatisfy { outcomes[$0]?.termination == .timedOut })
        for o in outcomes.values { #expect(groupMembers(o.pid).isEmpty) }
    }

    @Test func runAllKeepsOrderAndRunsConcurrently() {
        let clock = ContinuousClock()
        let start = clock.now
        let outcomes = runner.runAll([sh("sleep 0.2; exit 4"), sh("exit 5"), sh("sleep 30", timeout: .milliseconds(200)),
                                      ProcessSpec(argv: ["/nonexistent"])],
                                     deadline: .after(.seconds(10)))
        let wall = clock.now - start
        #expect(wall < slack, "took \(wall)")
        #expect(outcomes.count == 4)
        #expect(outcomes[0].termination == .exited(4))
        #expect(outcomes[1].termination == .exited(5))
        #expect(outcomes[2].termination == .timedOut)
        #expect(spawnFailure(outcomes[3])?.0 == ENOENT)
    }
}
