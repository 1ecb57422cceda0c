import ProbeSpawn
import ProbeSupport
// `readiness-probe serve`: HTTP health endpoints over a cached result. A background task
// re-runs every check each period; requests only read the last report.
@preconcurrency import Glibc
import Dispatch
import ProbeHTTP

enum ServeCommand: CLICommand {
    static let name = "serve"
    static let defaultListen = "127.0.0.1:8080"
    static let defaultPeriod: Duration = .seconds(5)

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Serve /readyz, /livez, /healthz and /metrics from checks re-run in the background.",
        usage: "[--listen ADDR:PORT] [--grpc ADDR:PORT] [--period D] [--max-age D] [--timeout D] [--config PATH] [--quiet]",
        options: [
            CLI.configOption,
            OptionSpec("--listen", short: "-l", value: "ADDR:PORT",
                       help: "Where to listen (default \(defaultListen); 0.0.0.0:8080, [::]:8080; port 0 picks a free port)."),
            OptionSpec("--grpc", value: "ADDR:PORT",
                       help: "Also serve gRPC health checking (grpc.health.v1, h2c) there; alone, no HTTP port is bound."),
            OptionSpec("--period", value: "DURATION", help: "How often the checks re-run (default 5s)."),
            OptionSpec("--max-age", value: "DURATION",
                       help: "An older result is served as not ready, code 11 (default: 3 x period, at least period + timeout + 1s)."),
            OptionSpec("--timeout", short: "-t", value: "DURATION", help: "Deadline of each run (default: [probe] timeout)."),
            OptionSpec("--quiet", short: "-q", help: "No access log line per request (state changes are still logged)."),
        ],
        discussion: """
        Endpoints: /readyz (every check), /healthz (the same), /livez (checks with liveness = true; with none,
        it answers ok while the server loop is alive), /readyz/NAME, /livez/NAME, /metrics.
        ?verbose, ?exclude=NAME (repeatable), ?format=json or Accept: application/json. 200 when ready, else 503;
        every health answer carries X-Readiness-Code. Until the first run finishes, and when the last result is
        older than --max-age, the answer is 503 with code 11. SIGTERM/SIGINT stop it (exit 0).
        --grpc ADDR:PORT: grpc.health.v1.Health (Check, Watch, List) over h2c from the same result; services
        "" and readyz (every check), livez, or a check's name; SERVING when its code is 0, unknown: NOT_FOUND.
        The first stderr line is `serve: listening on http://ADDR:PORT ...` (grpc:// with --grpc alone). See docs/serve.md.
        Exit status: 0 when stopped by a signal; 8 for a bad option or config; 14 when it cannot listen.
        """,
        examples: [
            CommandExample("serve --listen 0.0.0.0:8080", "Serve the endpoints to the pod network; checks re-run every 5s."),
            CommandExample("serve --listen 127.0.0.1:0 --period 2s --quiet", "A free local port, a 2s period, no access log."),
            CommandExample("serve --grpc 0.0.0.0:50051", "gRPC health checking only, for the kubelet's grpc: probe (no HTTP port)."),
        ])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        // Before any thread exists, so every thread inherits the mask and only the waiter sees them.
        Platform.blockSignals([SIGTERM, SIGINT])
        let period = try ArgumentParser.duration(args, "--period", spec) ?? defaultPeriod
        let timeoutArg = try ArgumentParser.duration(args, "--timeout", spec)
        let maxAgeArg = try ArgumentParser.duration(args, "--max-age", spec)
        let config = try CLI.loadConfiguration(args, inv)
        let timeout = timeoutArg ?? config.settings.timeout
        let maxAge = maxAgeArg ?? max(period * 3, period + timeout + .seconds(1))
        // Said after the "listening on" line(s), which are always first (docs/serve.md).
        var warning: String? = nil
        if let maxAgeArg, maxAgeArg < period + timeout {
            warning = "serve: warning: --max-age \(DurationText.format(maxAgeArg)) is shorter than period + timeout (\(DurationText.format(period + timeout))): results can turn stale between runs\n"
        }
        let listen = args.value("--listen") ?? defaultListen
        let cache = HealthCache()
        let endpoints = {
            var e = HealthEndpoints(cache: cache, entries: config.entries, maxAge: maxAge)
            if config.settings.history.enabled { e.history = HistoryFile(settings: config.settings) }
            return e
        }()
        ProcessResources.raiseOpenFileLimit()
        var limits = HTTPServerLimits()
        limits.stopGrace = .milliseconds(500)
        limits.reservedDescriptors = 32 + 8 * config.entries.count // a hook run holds about 5 at once
        // --grpc alone serves gRPC only (GRPCServe.swift); --listen with it, or neither, serves HTTP.
        let grpcListen = args.value("--grpc")
        var server: HTTPServer?
        if grpcListen == nil || args.value("--listen") != nil { do throws(HTTPServerError) {
            server = try HTTPServer(listen: listen, limits: limits, logger: args.has("--quiet") ? nil : HTTPServer.stderrLogger,
                                    handler: { endpoints.respond($0) })
        } catch {
            if case .badListenAddress = error { throw spec.usageError("--listen: \(error)") }
            throw ExitError(Codes.systemError, "readiness-probe serve: \(error)")
        } }
        let grpc = try grpcListen.map { (a) throws(ExitError) in try GRPCServe.start(a, endpoints: endpoints, quiet: args.has("--quiet"), spec: spec) }
        // Checked before "listening": a signal waiter that cannot start, or a task pool that cannot, wedged serve.
        try ServeThreads.startSignalWaiter(grace: limits.stopGrace + .seconds(2)) { [server] signal in
            Platform.writeStderr("serve: \(Signals.name(signal)): stopping (finishing requests in flight)\n")
            server?.requestStop()
            grpc?.requestStop()
        }
        try ServeThreads.preflight()
        let livez = endpoints.hasLivenessChecks
            ? config.entries.filter(\.liveness).map(\.name).joined(separator: ", ")
            : "none marked: answers for the server loop"
        let scheme = server.map { "http://\($0.boundAddress)" } ?? "grpc://\(grpc?.boundAddress ?? "")"
        Platform.writeStderr("serve: listening on \(scheme) (checks: \(config.entries.count), period \(DurationText.format(period)), timeout \(DurationText.format(timeout)), max age \(DurationText.format(maxAge)); livez: \(livez))\n")
        if let grpc, server != nil { Platform.writeStderr("serve: listening on grpc://\(grpc.boundAddress) (h2c: grpc.health.v1.Health)\n") }
        if let warning { Platform.writeStderr(warning) }

        let finished = DispatchSemaphore(value: 0)
        let entries = config.entries, settings = config.settings
        let checker = Task.detached {
            // failure_threshold / success_threshold: serve keeps each check's streak between runs.
            var damper = ThresholdDamper()
            var historyFailed = false
            while !Task.isCancelled {
                let began = ContinuousClock.now
                let raw = await ProbeRunner.run(entries, settings: settings, timeout: timeout)
                let report = damper.apply(raw, entries: entries)
                ProcessRunner.shared.killOrphans()
                if Task.isCancelled { break }
                cache.store(report, raw: raw, notify: NotifySummary.take(settings: settings, entries: entries))
                cache.note(code: report.code, line: Render.firstLine(report))
                // The flight recorder (docs/history.md): changes only, of what the checks said (the
                // thresholds damp the answer, not the record: a flapping check stays visible, and
                // every writer records the same codes); an error is logged once.
                if settings.history.enabled {
                    do {
                        try HistoryRecorder.record(raw, settings: settings, by: "serve")
                        historyFailed = false
                    } catch {
                        if !historyFailed { Platform.writeStderr("serve: error: cannot write the history: \(error)\n") }
                        historyFailed = true
                    }
                }
                try? await Task.sleep(until: began + period, clock: .continuous)
            }
            finished.signal()
        }
        GRPCServe.run(http: server, grpc: grpc)
        checker.cancel()
        if finished.wait(timeout: .now() + .milliseconds(400)) == .timedOut {
            Platform.writeStderr("serve: the check run in progress did not stop in time; exiting anyway\n")
        }
        Platform.writeStderr("serve: stopped\n")
        return 0
    }
}
