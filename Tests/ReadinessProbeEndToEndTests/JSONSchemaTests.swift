// The JSON contract (docs/json.md): every JSON the product writes, produced by the real binary
// against a real supervisord (with its real event listener), validated against docs/schema with
// the jsonschema package (Tests/Schema/validate.py, pinned in the Makefile's venv target). The
// validator also checks that every schema is a valid draft 2020-12 schema and that none changed
// without a version bump (docs/schema/fingerprints.txt).
@preconcurrency import Glibc
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import ProbeHTTP

/// Real outputs, written as NAME.SITUATION.json for the validator (NAME: docs/schema/NAME.schema.json).
final class SchemaSamples: @unchecked Sendable {
    let dir = TempDir("schema")
    private(set) var names: [String] = []

    /// Keeps `text` (one JSON document) as `NAME.SITUATION.json`.
    func keep(_ name: String, _ situation: String, _ text: String) throws {
        let file = "\(name).\(situation).json"
        #expect(!names.contains(file), "\(file) twice")
        names.append(file)
        try dir.write(file, text)
    }

    /// The commands `json(_:)` ran (`run`, `state show`, ...).
    private(set) var commands: Set<String> = []

    /// Runs the binary with `args` (a `--format json` command) and notes which command it was.
    func json(_ args: [String]) async -> CommandResult {
        let two = args.count > 1 ? args[0] + " " + args[1] : ""
        commands.insert(CLI.names.contains(two) ? two : args[0])
        return await runCommand([TestPaths.binary] + args)
    }

    /// Keeps stdout of a command that must exit with `status`.
    func keep(_ name: String, _ situation: String, _ r: CommandResult, status: Int32) throws {
        #expect(r.status == status, "\(name).\(situation): exit \(r.status), stderr: \(r.stderr)")
        try keep(name, situation, r.stdout)
    }

    /// Runs Tests/Schema/validate.py (on these samples, or only on the schemas); its output when it fails.
    static func validate(_ dir: String?) async throws -> CommandResult {
        try #require(Platform.isExecutable(JSONSchemaTests.python), "the venv is missing: run `make venv` (make test does)")
        let argv = ["timeout", "120", JSONSchemaTests.python, TestPaths.packageRoot + "/Tests/Schema/validate.py"] + (dir.map { [$0] } ?? [])
        return await runCommand(argv)
    }
}

@Suite(.timeLimit(.minutes(3))) struct JSONSchemaTests {
    static let python = TestPaths.packageRoot + "/.venv/bin/python"

    /// The commands with `--format json` whose output `realOutputsMatchTheSchemas` validates.
    /// A new command with a json format fails `everyJSONCommandIsCovered` until it is added here,
    /// and `realOutputsMatchTheSchemas` fails until it runs it (`s.json([...])`) and keeps its output.
    static let jsonCommands: Set<String> = ["run", "wait", "codes", "checks", "state show", "history", "timeline"]

    @Test func schemasAreValidAndVersioned() async throws {
        let r = try await SchemaSamples.validate(nil)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.hasPrefix("ok: "))
    }

    /// The validator itself fails on drift: a schema edited under its old version, a new version
    /// without its fingerprint line, a duration written as an integer, an unknown field or kind.
    @Test func validatorCatchesDrift() async throws {
        let dir = TempDir("schemad")
        let root = TestPaths.packageRoot + "/docs/schema/"
        for name in ["run", "cached-result"] {
            try dir.write("schemas/\(name).schema.json", try Platform.readTextFile(root + name + ".schema.json", limit: 1 << 20))
        }
        let prints = try Platform.readTextFile(root + "fingerprints.txt", limit: 1 << 20)
        try dir.write("schemas/fingerprints.txt", prints)
        func validate(_ samples: String? = nil) async throws -> CommandResult {
            try #require(Platform.isExecutable(Self.python))
            return await runCommand(["timeout", "60", Self.python, TestPaths.packageRoot + "/Tests/Schema/validate.py",
                                     "--schemas", dir.file("schemas")] + (samples.map { [$0] } ?? []))
        }
        #expect(try await validate().status == 0)

        let run = try Platform.readTextFile(root + "run.schema.json", limit: 1 << 20)
        try dir.write("schemas/run.schema.json", run.replacing("one line, no timestamps", with: "one line"))
        let edited = try await validate()
        #expect(edited.status == 1 && edited.stdout.contains("changed, but its version is still readiness-probe/run/1"), "\(edited.stdout)")

        try dir.write("schemas/run.schema.json", run.replacing("run:1", with: "run:2")
            .replacing("readiness-probe/run/1", with: "readiness-probe/run/2"))
        let bumped = try await validate()
        #expect(bumped.status == 1 && bumped.stdout.contains("readiness-probe/run/2 has no fingerprint"), "\(bumped.stdout)")

        try dir.write("schemas/run.schema.json", run)
        let good = #"{"schema": "readiness-probe/run/1", "ready": true, "code": 0, "summary": "ok", "duration_ms": 1.5, "checks": []}"#
        try dir.write("samples/run.good.json", good)
        try dir.write("samples/cached-result.none.json", #"{"schema": "readiness-probe/cached-result/1", "format": "readiness-probe-result/1", "finished_at": 1.0, "boot_id": null, "listener_pid": null, "listener_start": null, "supervisord_pid": null, "supervisord_start": null, "closed": true, "supervisord_state": "RUNNING"}"#)
        #expect(try await validate(dir.file("samples")).status == 0)
        try dir.write("samples/run.int.json", good.replacing("1.5", with: "2"))
        try dir.write("samples/run.extra.json", good.replacing("\"checks\": []", with: "\"checks\": [], \"new\": 1"))
        try dir.write("samples/run.kind.json", good.replacing("\"checks\": []", with:
            #""checks": [{"name": "a", "kind": "new-kind", "status": "pass", "code": 0, "detail": "", "duration_ms": 0.0}]"#))
        try dir.write("samples/run.order.json", #"{"ready": true, "schema": "readiness-probe/run/1", "code": 0, "summary": "ok", "duration_ms": 1.5, "checks": []}"#)
        let bad = try await validate(dir.file("samples"))
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("run.int.json: duration_ms: 2 is not of type 'number'"), "\(bad.stdout)")
        #expect(bad.stdout.contains("run.extra.json: (top): Additional properties are not allowed"), "\(bad.stdout)")
        #expect(bad.stdout.contains("run.kind.json: checks/0/kind: 'new-kind' is not one of"), "\(bad.stdout)")
        #expect(bad.stdout.contains("run.order.json: \"schema\" must be the first key"), "\(bad.stdout)")
    }

    @Test func everyJSONCommandIsCovered() {
        let withJSON = CLI.commands.filter { c in
            c.spec.options.contains { o in
                if o.name == "--format", case .choice(let values) = o.kind { return values.contains("json") }
                return false
            }
        }.map(\.name)
        #expect(!withJSON.isEmpty)
        for name in withJSON {
            #expect(Self.jsonCommands.contains(name),
                    "`\(name) --format json` has no schema test: add a schema (docs/json.md) and a sample in realOutputsMatchTheSchemas")
        }
    }

    @Test func realOutputsMatchTheSchemas() async throws {
        let s = SchemaSamples()
        let bin = TestPaths.binary
        let work = TempDir("schemaw")

        // codes, checks: no supervisord needed.
        try s.keep("codes", "table", await s.json(["codes", "--format", "json"]), status: 0)

        // Hooks: pass, own code, warn, not executable in hooks.d (skipped), past its timeout.
        let hooksDir = work.file("hooks.d")
        try work.script("hooks.d/10-ok", "exit 0\n")
        try work.write("hooks.d/20-notexec", "#!/bin/sh\nexit 0\n", mode: 0o644)
        let fail = try work.script("fail42", "echo broken >&2\nexit 42\n")
        let soft = try work.script("soft", "exit 3\n")
        let slow = try work.script("slow", "exec sleep 30\n")
        let hooksConf = try work.write("hooks.conf", """
            [probe]
            timeout = 5s
            hooks_dir = \(hooksDir)
            sonic_hook =
            rundir = \(work.path)/run
            [start]
            program =
            [state:app]
            [hook:fail42]
            command = \(fail)
            [hook:soft]
            command = \(soft)
            severity = warn
            [hook:slow]
            command = \(slow)
            timeout = 300ms
            [hook:absent]
            command = \(work.path)/not-installed
            optional = true
            """)
        let checks = await s.json(["checks", "--config", hooksConf, "--format", "json"])
        try s.keep("checks", "hooks", checks, status: 0)
        // A hook's codes as the table shows them (0,1,6,7,9,16-254): the last one is the range.
        let hookRow = try JSON.parse(checks.stdout)["checks"]?.arrayValue?.first { $0["name"]?.stringValue == "fail42" }
        let hookCodes = hookRow?["codes"]?.arrayValue ?? []
        #expect(hookCodes.map { $0["label"]?.stringValue ?? "" } == ["0", "1", "6", "7", "9", "16-254"])
        #expect(hookCodes.last?["from"]?.intValue == 16 && hookCodes.last?["to"]?.intValue == 254)
        #expect(try JSON.parse(checks.stdout)["skipped"]?.arrayValue?.count == 1)
        let hooksRun = await s.json(["run", "--config", hooksConf, "--format", "json"])
        try s.keep("run", "hooks", hooksRun, status: 5)
        // Every status is in the samples: pass (hooks.d), fail (state, fail42, slow), warn (soft), skip (absent).
        let statuses = Set((try JSON.parse(hooksRun.stdout)["checks"]?.arrayValue ?? []).compactMap { $0["status"]?.stringValue })
        #expect(statuses == ["pass", "fail", "warn", "skip"])
        try s.keep("run", "overall-deadline",
                   await s.json(["run", "--config", hooksConf, "--format", "json", "--only", "slow", "--timeout", "200ms"]),
                   status: 9)

        // state show: missing, healthy (this process), error not zero.
        let stateArgs = ["--unit", "app", "--rundir", work.path + "/run"]
        try s.keep("state", "missing", await s.json(["state", "show", "--format", "json"] + stateArgs), status: 5)
        #expect(await runCommand([bin, "state", "load", "--pid", String(getpid())] + stateArgs).status == 0)
        #expect(await runCommand([bin, "state", "set", "0"] + stateArgs).status == 0)
        try s.keep("state", "healthy", await s.json(["state", "show", "--format", "json"] + stateArgs), status: 0)
        #expect(await runCommand([bin, "state", "set"] + stateArgs + ["--", "-1"]).status == 0)
        try s.keep("state", "error", await s.json(["state", "show", "--format", "json"] + stateArgs), status: 5)

        // A real supervisord with the listener: start done, syncd running, a stopped critical program.
        let rig = try await ListenerRig.start(SupervisordConfig()
            .start()
            .program("syncd", command: "sleep 1000", autorestart: false)
            .program("stopped", command: "sleep 1000", startsecs: nil, autostart: false)
            .program("napp", command: "sh -c 'while :; do \(bin) notify --ready --status up WATCHDOG=1; sleep 0.5; done'",
                     environment: notifyEnvironment), probe: "[supervisor]\nsource = auto\n[programs]\ncritical = syncd\nnotify = napp\n[listener]\nrun_checks = true\n")
        defer { rig.harness.stop() }
        let conf = rig.probeConf
        #expect(await rig.waitFor("syncd", .running))
        // napp repeats READY=1: one sent before the listener has handled napp's STARTING event is
        // cleared by that event (a restart clears what a program said).
        // Ready once napp has said READY=1 (the ledger has its notify state) and the listener has written both files.
        #expect(await poll { Platform.exists(rig.resultPath) && Platform.exists(rig.ledgerPath) }, "\(rig.listenerLog())")
        var last: CommandResult? = nil
        #expect(await poll { last = Command.run([bin, "run", "--config", rig.probeConf]); return last?.status == 0 },
                "\(last?.stdout ?? "")\n\(rig.listenerLog())")
        #expect(await poll { (try? Platform.readTextFile(rig.resultPath, limit: 1 << 22))?.contains("\"ready\": true") ?? false })
        try s.keep("checks", "supervisor", await s.json(["checks", "--config", conf, "--format", "json"]), status: 0)
        try s.keep("run", "ready", await s.json(["run", "--config", conf, "--format", "json"]), status: 0)
        try s.keep("run", "wait", await s.json(["wait", "--config", conf, "--format", "json", "--timeout", "10s"]), status: 0)
        try s.keep("run", "cached", await s.json(["run", "--cached", "--config", conf, "--format", "json"]), status: 0)
        try s.keep("ledger", "running", try Platform.readTextFile(rig.ledgerPath, limit: 1 << 22))
        try s.keep("cached-result", "ready", try Platform.readTextFile(rig.resultPath, limit: 1 << 22))
        // The flight recorder (docs/history.md): program transitions and code changes, the
        // command's JSON, the file's lines, and the start-up timeline.
        #expect(await poll { (try? Platform.readTextFile(rig.rundir + "/readiness-probe/history", limit: 1 << 22))?.contains("\"to\": 0") ?? false })
        try s.keep("history", "listener", await s.json(["history", "--config", conf, "--format", "json"]), status: 0)
        try s.dir.write("history-file.listener.jsonl", try Platform.readTextFile(rig.rundir + "/readiness-probe/history", limit: 1 << 22))
        try s.keep("timeline", "listener", await s.json(["timeline", "--config", conf, "--format", "json"]), status: 0)

        // serve's JSON bodies.
        let serve = try await ServeProcess.start(config: conf, extra: ["--period", "200ms"])
        let ready = await serve.waitFor("/readyz?format=json", status: 200)
        try s.keep("run", "serve-readyz", ready?.bodyText ?? "")
        try s.keep("history", "serve", try serve.get("/readyz/history").bodyText)
        // The notify parts are in the samples (so they are validated too).
        #expect(try JSON.parse(ready?.bodyText ?? "")["notify"]?["programs"]?.arrayValue?.first?["ready"]?.boolValue == true)
        let ledger = try JSON.parse(try Platform.readTextFile(rig.ledgerPath, limit: 1 << 22))
        #expect(ledger["notify"]?["socket"]?.stringValue != nil)
        #expect(ledger["programs"]?.arrayValue?.contains { $0["notify"]?["ready_at"]?.doubleValue != nil } == true)
        try s.keep("run", "serve-livez", (try serve.get("/livez?format=json")).bodyText)
        try s.keep("run", "serve-check", (try serve.get("/readyz/start", headers: [("Accept", "application/json")])).bodyText)
        try s.keep("run", "serve-exclude", (try serve.get("/readyz?format=json&exclude=programs&exclude=nosuch")).bodyText)

        // Kuberhealthy: the --dry-run body (stdout) and a passing report (POSTed).
        let dry = await runCommand([bin, "report", "kuberhealthy", "--config", conf, "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        try s.keep("kuberhealthy", "dry-run", dry.stdout)
        let kh = try await KuberhealthyServer.start()
        let okReport = await runCommand([bin, "report", "kuberhealthy", "--config", conf], environment: kh.env())
        #expect(okReport.status == 0, "\(okReport.stderr)")

        // A critical program is killed: not ready everywhere; the ledger holds the failure.
        let syncd = try #require(rig.processes().first { $0.name == "syncd" })
        kill(pid_t(syncd.pid), SIGKILL)
        #expect(await rig.waitFor("syncd", .exited))
        // supervisord hands the EXITED event to the listener on its next loop pass (up to a second
        // after XML-RPC says EXITED): the probe answers from the ledger once the listener has it.
        #expect(await poll { (try? Platform.readTextFile(rig.ledgerPath, limit: 1 << 22))?.contains("\"failure\": {") ?? false })
        try s.keep("run", "not-ready", await s.json(["run", "--config", conf, "--format", "json"]), status: 4)
        try s.keep("ledger", "failure", try Platform.readTextFile(rig.ledgerPath, limit: 1 << 22))
        let notReady = await serve.waitFor("/readyz?format=json", status: 503)
        try s.keep("run", "serve-not-ready", notReady?.bodyText ?? "")
        let failReport = await runCommand([bin, "report", "kuberhealthy", "--config", conf], environment: kh.env())
        #expect(failReport.status == 0, "\(failReport.stderr)")
        let bodies = kh.requests.compactMap { $0["body"]?.stringValue }
        #expect(bodies.count == 2)
        for (i, body) in bodies.enumerated() { try s.keep("kuberhealthy", "report\(i + 1)", body) }
        // /readyz/history when the history file may not be trusted (writable by others): a JSON error.
        let historyPath = rig.rundir + "/readiness-probe/history"
        #expect(chmod(historyPath, 0o666) == 0)
        let refused = try serve.get("/readyz/history")
        #expect(refused.status == 500, "\(refused.bodyText)")
        try s.keep("error", "history-untrusted", refused.bodyText)
        #expect(chmod(historyPath, 0o644) == 0)
        serve.process.signal(SIGTERM)
        _ = await serve.process.waitExit()

        // supervisord stops: the listener closes its files (result.json without a result).
        rig.harness.stop()
        #expect(await poll { (try? Platform.readTextFile(rig.resultPath, limit: 1 << 22))?.contains("\"closed\": true") ?? false })
        try s.keep("cached-result", "closed", try Platform.readTextFile(rig.resultPath, limit: 1 << 22))
        try s.keep("run", "cached-gone", await s.json(["run", "--cached", "--config", conf, "--format", "json"]), status: 3)

        // Every command listed as having JSON output has produced some here.
        #expect(Self.jsonCommands.subtracting(s.commands).isEmpty, "not run: \(Self.jsonCommands.subtracting(s.commands))")
        let r = try await SchemaSamples.validate(s.dir.path)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("real outputs valid"))
    }
}
