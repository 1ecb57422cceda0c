// The harness's rule that tests write only their own folders (docs/testing.md): `Command.run`
// refuses `run`/`serve`/`listen` of the binary under test with a config that would write the
// machine's /run/readiness-probe. (No process is started when it refuses.)
import Testing
import ProbeSupport
import ProbeTestSupport

@Suite struct RundirGuardTests {
    @Test func commandsThatWouldWriteTheMachinesRunAreRefused() throws {
        let dir = TempDir("guard")
        let bare = try dir.write("bare.conf", "[probe]\nhooks_dir =\nsonic_hook =\n")
        let own = try dir.write("own.conf", "[probe]\nrundir = \(dir.path)/run\n")
        let machine = try dir.write("machine.conf", "[probe]\nrundir = /run\n")
        let under = try dir.write("under.conf", "[probe]\nrundir=/run/x\n")
        let off = try dir.write("off.conf", "[history]\nenabled = false\n")
        let included = try dir.write("inc.conf", "[include]\nfiles = \(dir.path)/*.ini\n")
        let b = TestPaths.binary
        for argv in [[b, "run", "--config", bare], [b, "--config", bare], [b, "--config", bare, "run", "--format", "json"],
                     [b, "serve", "--config", bare], [b, "listen", "--config", bare], [b, "run", "--config", machine],
                     [b, "run", "--config", under], [b, "listen", "--config", off], ["/usr/bin/prlimit", "--", b, "run", "--config", bare],
                     [b, "run", "-c", bare], [b, "run", "-c\(bare)", "-ojson"], [b, "serve", "--config", "/dev/null"],
                     [b, "run", "--config", bare, "--only", "x"], ["timeout", "-s", "KILL", "30", b, "run", "--config", bare]] {  // --only naming every check is a whole run
            #expect(RundirGuard.refusal(argv) != nil, "\(argv)")
        }
        #expect(RundirGuard.refusal([b, "run"], environment: ["READINESS_PROBE_CONFIG": bare]) != nil)
        if !Platform.exists("/etc/readiness-probe/readiness-probe.conf") {  // no config at all: the defaults, rundir /run
            #expect(RundirGuard.refusal([b, "run"], environment: ["READINESS_PROBE_CONFIG": ""]) != nil)
        }
        for argv in [[b, "run", "--config", own], [b, "listen", "--config", own], [b, "run", "--config", off],
                     [b, "run", "--config", bare, "--cached"],
                     [b, "wait", "--config", bare], [b, "history", "--config", bare], [b, "validate", "--config", bare],
                     [b, "run", "--config", bare, "--help"], [b, "run", "--config", dir.path + "/missing.conf"],
                     [b, "run", "--config", included], ["/bin/true", "run"], [b, "run", "-c\(own)"], ["/bin/sh", "-c", "exit 0", b, "run"], ["/tmp/demo.sh", b],
                     [b, "run", "--config", try RundirGuard.ownConfig(dir)]] {
            #expect(RundirGuard.refusal(argv) == nil, "\(argv)")
        }
        #expect(RundirGuard.refusal([b, "run"], environment: ["READINESS_PROBE_CONFIG": own]) == nil)
        // Refused means not run: status 125 and the fix on stderr.
        let r = Command.run([b, "run", "--config", bare])
        #expect(r.status == 125 && r.stderr.contains("[probe] rundir"), "\(r.stderr)")
    }
}
