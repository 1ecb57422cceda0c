// serve (and run) under a tight address-space limit (`ulimit -v`, RLIMIT_AS): they work with
// little memory, fail at start with a message and a code when there is too little, never wedge,
// and SIGTERM always stops serve. Real processes under prlimit(1). See docs/reliability.md.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import ProbeHTTP
import Glibc

@Suite(.serialized) struct ServeLimitsTests {
    static let prlimit = "/usr/bin/prlimit"

    /// The port in serve's "listening" line, if it has printed one.
    static func port(_ stderr: String) -> UInt16? {
        guard let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("serve: listening on http://127.0.0.1:") }) else {
            return nil
        }
        return UInt16(line.dropFirst("serve: listening on http://127.0.0.1:".count).prefix { $0.isNumber })
    }

    /// Was 8 MiB per task-pool thread plus a 64 MiB malloc arena per thread: serve printed
    /// "listening", never answered, and ignored SIGTERM under this limit. Now it answers.
    @Test(.enabled(if: Platform.isExecutable(prlimit))) func serveAnswersUnderA40MiBLimit() async throws {
        let b = HookBench()
        let conf = try b.config([("one", try b.flip("one"), "")])
        let proc = try BackgroundProcess([Self.prlimit, "--as=\(40 << 20)", "--", TestPaths.binary, "serve", "--config", conf,
                                          "--listen", "127.0.0.1:0", "--period", "200ms"])
        var port: UInt16?
        #expect(await Wait.untilAsync { port = Self.port(proc.stderr); return port != nil }, "\(proc.stderr)")
        let p = try #require(port)
        var last: HTTPResponse?
        let ready = await Wait.untilAsync {
            last = try? HTTPClient.send(HTTPClientRequest(target: "/readyz"), to: .tcp(host: "127.0.0.1", port: p), deadline: .after(.seconds(2)))
            return last?.status == 200
        }
        #expect(ready, "last: \(String(describing: last?.status)); \(proc.stderr)")
        #expect(await Wait.untilAsync { b.runs("one") >= 3 }) // the background runs keep going
        proc.signal(SIGTERM)
        #expect(await proc.waitExit(timeout: .seconds(3)) == 0, "\(proc.stderr)")
    }

    /// From a limit too small to load the binary up to one that works: every start either fails
    /// promptly with a message and a non-zero code, or says "listening" and then stops on SIGTERM
    /// within 3 s. Nothing wedges. `run` is held to the same: it exits, with a message when it fails.
    @Test(.enabled(if: Platform.isExecutable(prlimit))) func tightLimitsNeverWedge() async throws {
        let b = HookBench()
        let conf = try b.config([("one", try b.flip("one"), "")])
        var outcomes: [String] = []
        for mib in [12] + Array(14...30) {
            let limit = "--as=\(mib << 20)"
            // A limit where the binary loads but Swift's runtime cannot initialise traps before
            // main (SIGILL, no message; `--version` too): no command runs there, so there is
            // nothing of ours to judge. Where that window falls moves with the binary's size.
            let version = await runCommand([Self.prlimit, limit, "--", TestPaths.binary, "--version"])
            if version.status > 128 && version.stdout.isEmpty && version.stderr.isEmpty {
                outcomes.append("\(mib) MiB: the runtime cannot start (--version: status \(version.status))")
                continue
            }
            let serve = try BackgroundProcess([Self.prlimit, limit, "--", TestPaths.binary, "serve", "--config", conf,
                                               "--listen", "127.0.0.1:0", "--period", "100ms"])
            var exited: Int32?
            let deadline = Deadline.after(.seconds(15))
            while Self.port(serve.stderr) == nil && !deadline.hasPassed {
                if let s = await serve.waitExit(timeout: .milliseconds(50)) { exited = s; break }
            }
            let settled = exited != nil || Self.port(serve.stderr) != nil
            #expect(settled, "\(mib) MiB: serve neither listened nor exited: \(serve.stderr)")
            if let exited {
                #expect(exited != 0 && !serve.stderr.isEmpty, "\(mib) MiB: serve exited \(exited) with: \(serve.stderr)")
                outcomes.append("\(mib) MiB: exit \(exited)")
            } else if settled {
                serve.signal(SIGTERM)
                let status = await serve.waitExit(timeout: .seconds(3))
                #expect(status != nil, "\(mib) MiB: serve ignored SIGTERM: \(serve.stderr)")
                outcomes.append("\(mib) MiB: listened, SIGTERM -> \(status.map(String.init) ?? "hung")")
            }

            let run = try BackgroundProcess([Self.prlimit, limit, "--", TestPaths.binary, "run", "--config", conf])
            let status = await run.waitExit(timeout: .seconds(15))
            #expect(status != nil, "\(mib) MiB: run did not exit: \(run.stderr)")
            if let status, status != 0 {
                // The message is on stderr (the binary could not start) or in the table on stdout (a
                // hook could not be spawned: code 7, "cannot run ...: Cannot allocate memory").
                #expect(!run.stderr.isEmpty || run.stdout.contains("Cannot allocate memory"),
                        "\(mib) MiB: run exited \(status) without a message: \(run.stdout)")
            }
        }
        print("ServeLimitsTests.tightLimitsNeverWedge: " + outcomes.joined(separator: "; "))
        // The last limits are generous enough for serve to work.
        #expect(outcomes.last?.hasSuffix("SIGTERM -> 0") == true, "\(outcomes)")
    }
}
