// ProbeSpawn's orphan sweep against children that other code of the same process started and
// reaps itself (the test harness's commands, supervisord): GNU `timeout` moves into a process
// group of its own, which made it look like an orphan: killOrphans SIGKILLed it and sweep reaped
// it, so the harness's waitpid failed with ECHILD ("waitpid N: No child processes", status 126).
@preconcurrency import Glibc
import ProbeSupport
import ProbeTestSupport
@testable import ProbeSpawn
import Testing
import Synchronization

@Suite struct ForeignChildrenTests {
    @Test func sweepNeitherKillsNorReapsARegisteredChildInAGroupOfItsOwn() async {
        let dir = TempDir("sweep")
        let enough = dir.file("enough")
        let stop = Atomic<Bool>(false)
        // Sweeps on another thread for as long as the command runs, as an in-process run would.
        // The command runs until the sweeper has done 20 rounds (a file it creates then), so every
        // one of them ran while the command did, however slow this machine is.
        let sweeper = Task.detached {
            var rounds = 0
            while !stop.load(ordering: .relaxed) {
                _ = Reaper.killOrphans(wait: .milliseconds(20))
                Reaper.sweep()
                rounds += 1
                if rounds == 20 { close(creat(enough, 0o644)) }
                try? await Task.sleep(for: .milliseconds(2))
            }
            return rounds
        }
        let r = await Task.detached {
            Command.run(["timeout", "20", "/bin/sh", "-c", "while [ ! -e '\(enough)' ]; do sleep 0.05; done; exit 3"],
                        timeout: .seconds(30))
        }.value
        stop.store(true, ordering: .relaxed)
        let rounds = await sweeper.value
        #expect(rounds >= 20, "the sweeper ran while the command did")
        #expect(r.status == 3, "the command's own status, not killed or reaped by the sweep: \(r.status) \(r.stderr)")
        #expect(!r.timedOut)
    }
}
