// examples/ really work: the configs validate, the manifests pass the Kubernetes schemas,
// the example daemon's ready flag is crash-proof and it stops at once on SIGTERM, and the
// demo (`make demo`) shows codes 2, 0, 4, 3 against a real supervisord. `make e2e` builds
// both example images and probes them under podman (Tests/E2E/e2e.sh).
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport

@Suite struct ExamplesTests {
    let examples = TestPaths.packageRoot + "/examples"

    /// The example config validates where its paths exist: as `make demo` does, the image's
    /// /etc/readiness-probe/hooks.d and /usr/local/bin are moved to the repository's copies.
    /// (As it is, on a machine without them, validate refuses it: hooks_dir and the hook's
    /// command do not exist, code 8.)
    @Test func probeConfigValidates() throws {
        let dir = TempDir("ex")
        let text = try Platform.readTextFile(examples + "/container/readiness-probe.conf")
            .replacing("/etc/readiness-probe/hooks.d", with: examples + "/container/hooks.d")
            .replacing("/usr/local/bin/", with: examples + "/container/bin/")
        let conf = try dir.write("readiness-probe.conf", text)
        let r = Command.run([TestPaths.binary, "validate", "--config", conf])
        #expect(r.status == 0, "\(r.stderr)")
        let asIs = Command.run([TestPaths.binary, "validate", "--config", examples + "/container/readiness-probe.conf"])
        if !Platform.exists("/etc/readiness-probe/hooks.d") {
            #expect(asIs.status == 8 && asIs.stderr.contains("hooks_dir /etc/readiness-probe/hooks.d does not exist"), "\(asIs)")
        }
    }

    /// The SONiC-style config names /etc/supervisor/critical_processes, as installed in the
    /// image: validated here with that path pointing at examples/sonic/critical_processes.
    @Test func sonicConfigValidates() throws {
        let dir = TempDir("sonic")
        let text = try Platform.readTextFile(examples + "/sonic/readiness-probe.conf")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("critical_file") ? "critical_file = \(examples)/sonic/critical_processes" : String(line)
        }
        let conf = try dir.write("readiness-probe.conf", lines.joined(separator: "\n"))
        let r = Command.run([TestPaths.binary, "validate", "--config", conf])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("programs"), "\(r.stdout)")
    }

    @Test func kubernetesManifestsMatchTheSchemas() throws {
        let tool = TestPaths.packageRoot + "/.venv/bin/kubernetes-validate"
        try #require(Platform.isExecutable(tool), "kubernetes-validate is missing: run `make venv` (make test does)")
        for example in ["container", "sonic"] {
            let dir = examples + "/\(example)/k8s/"
            let manifests = (try Platform.listDirectory(dir) ?? []).filter { $0.hasSuffix(".yaml") }
            #expect(!manifests.isEmpty, "\(dir)")
            for m in manifests {
                let r = Command.run([tool, "--strict", dir + m])
                #expect(r.status == 0, "\(example)/k8s/\(m): \(r.stdout) \(r.stderr)")
            }
        }
    }

    /// docs/serve.md's gRPC probe snippet is the one in pod-grpc.yaml, which the schemas validate above.
    @Test func grpcProbeSnippetInTheDocsIsTheValidatedOne() throws {
        let doc = try Platform.readTextFile(TestPaths.packageRoot + "/docs/serve.md", limit: 1 << 20)
        let pod = try Platform.readTextFile(examples + "/container/k8s/pod-grpc.yaml")
        let lines = doc.split(separator: "\n", omittingEmptySubsequences: false)
        let open = try #require(lines.indices.first { lines[$0] == "```yaml" && $0 + 2 < lines.count
            && lines[$0 + 1] == "    readinessProbe:" && lines[$0 + 2] == "      grpc:" })
        let snippet = lines[(open + 1)...].prefix { $0 != "```" }
        #expect(snippet.count > 4)
        // The snippet is indented by 4; the Pod's container fields by 6.
        let indented = snippet.map { "  " + $0 }.joined(separator: "\n")
        #expect(pod.contains(indented), "docs/serve.md's grpc probe snippet differs from pod-grpc.yaml")
    }

    @Test func hooksAreSafeToRun() throws {
        for dir in ["/container/bin", "/container/hooks.d"] {
            for name in try Platform.listDirectory(examples + dir) ?? [] {
                let info = try #require(try Platform.fileInfo(examples + dir + "/" + name))
                #expect(info.permissions & 0o022 == 0, "\(name) must not be group/other-writable")
                #expect(info.permissions & 0o100 != 0, "\(name) must be executable")
            }
        }
        for name in ["/sonic/start.sh", "/sonic/readiness_probe_hook"] {
            do {
                let info = try #require(try Platform.fileInfo(examples + name))
                #expect(info.permissions & 0o022 == 0, "\(name) must not be group/other-writable")
                #expect(info.permissions & 0o100 != 0, "\(name) must be executable")
            }
        }
    }

    /// What container authors copy from the example: the ready flag names the running process
    /// (pid and start time), so one left behind by a crash fails the hook; and the daemon acts
    /// on SIGTERM at once, even in the middle of a long wait (READY_DELAY=30 here).
    @Test func exampleDaemonFlagIsCrashProofAndStopsAtOnce() throws {
        let dir = TempDir("flag")
        let bin = examples + "/container/bin"
        let script = try dir.script("t.sh", """
            set -u
            flag=\(dir.path)/webd.ready
            waitflag() { i=0; while [ ! -s "$flag" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; }
            # Ready, then stopped by TERM: exit 0, flag removed.
            READY_DELAY=0 \(bin)/daemon.sh webd "$flag" >/dev/null & p=$!
            waitflag
            \(bin)/webd-ready "$flag" >/dev/null; echo "live=$?"
            kill -TERM $p; wait $p; echo "stopped=$?"
            [ -e "$flag" ] && echo "flag=left" || echo "flag=removed"
            # A crash (SIGKILL): the flag stays and the hook calls it stale.
            READY_DELAY=0 \(bin)/daemon.sh webd "$flag" >/dev/null & p=$!
            waitflag
            kids=$(pgrep -P $p)
            kill -KILL $p; wait $p 2>/dev/null; kill $kids 2>/dev/null
            out=$(\(bin)/webd-ready "$flag"); echo "crashed=$? $out"
            # A pid that is alive but another process (this shell): stale too.
            echo "$$ 1" > "$flag"
            \(bin)/webd-ready "$flag" >/dev/null; echo "reused=$?"
            # TERM during a 30 s wait: gone within 10 s (a foreground sleep would take 30).
            rm -f "$flag"
            READY_DELAY=30 \(bin)/daemon.sh webd "$flag" >/dev/null & p=$!
            sleep 0.3
            kill -TERM $p
            i=0; while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            if kill -0 $p 2>/dev/null; then echo "term=slow"; kill -KILL $p; else echo "term=prompt"; fi
            wait $p 2>/dev/null
            """)
        let r = Command.run([script])
        for line in ["live=0", "stopped=0", "flag=removed", "reused=20", "term=prompt"] {
            #expect(r.stdout.contains(line + "\n"), "\(line) missing in:\n\(r.stdout)\(r.stderr)")
        }
        #expect(r.stdout.contains("crashed=20 webd's flag"), "\(r.stdout)")
        #expect(r.stdout.contains("stale"), "\(r.stdout)")
    }

    @Test func demoShowsStartingReadyBrokenAndDown() throws {
        try #require(SupervisordHarness.findSupervisord() != nil, "supervisord missing: run `make venv`")
        let path = "\(TestPaths.packageRoot)/.venv/bin:" + (Platform.environment("PATH") ?? "/usr/bin:/bin")
        let r = Command.run([examples + "/demo.sh", TestPaths.binary], environment: ["PATH": path])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("codes seen: starting=2 ready=0 stopped=4 down=3"))
    }
}
