// examples/ really work: the configs validate, the manifests pass the Kubernetes schemas,
// and the demo (`make demo`) shows codes 2, 0, 4, 3 against a real supervisord.
import Testing
import ReadinessProbe
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

    @Test func kubernetesManifestsMatchTheSchemas() throws {
        let tool = TestPaths.packageRoot + "/.venv/bin/kubernetes-validate"
        try #require(Platform.isExecutable(tool), "kubernetes-validate is missing: run `make venv` (make test does)")
        let manifests = (try Platform.listDirectory(examples + "/container/k8s") ?? []).filter { $0.hasSuffix(".yaml") }
        #expect(!manifests.isEmpty)
        for m in manifests {
            let r = Command.run([tool, "--strict", examples + "/container/k8s/" + m])
            #expect(r.status == 0, "\(m): \(r.stdout) \(r.stderr)")
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
    }

    @Test func demoShowsStartingReadyBrokenAndDown() throws {
        try #require(SupervisordHarness.findSupervisord() != nil, "supervisord missing: run `make venv`")
        let path = "\(TestPaths.packageRoot)/.venv/bin:" + (Platform.environment("PATH") ?? "/usr/bin:/bin")
        let r = Command.run([examples + "/demo.sh", TestPaths.binary], environment: ["PATH": path])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("codes seen: starting=2 ready=0 stopped=4 down=3"))
    }
}
