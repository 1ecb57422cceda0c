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
        let stop = Atomic<Bool>(false)
        // Sweeps on another thread for as long as the command runs, as an in-process run would.
        let sweeper = Task.detached {
            var rounds = 0
            while !stop.load(ordering: .relaxed) {
                _ = Reaper.killOrphans(wait: .milliseconds(20))
                Reaper.sweep()
                rounds += 1
                try? await Task.sleep(for: .milliseconds(2))
            }
            return rounds
        }
        let r = await Task.detached {
            Command.run(["timeout", "20", "/bin/sh", "-c", "sleep 0.5; exit 3"], timeout: .seconds(30))
        }.value
        stop.store(true, ordering: .relaxed)
        let rounds = await sweeper.value
        #expect(rounds > 10, "the sweeper ran while the command did")
        #expect(r.status == 3, "the command's own status, not killed or reaped by the sweep: \(r.status) \(r.stderr)")
        #expect(!r.timedOut)
    }
}
