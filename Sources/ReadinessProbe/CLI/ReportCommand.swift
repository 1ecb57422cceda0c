import ProbeSpawn
import ProbeSupport
// `readiness-probe report kuberhealthy`: run the checks once and report them to Kuberhealthy
// as an external check.

enum ReportCommand: CLICommand {
    static let name = "report"

    /// When Kuberhealthy gives no KH_CHECK_RUN_DEADLINE: time allowed for delivery after the run.
    static let defaultDeliveryBudget: Duration = .seconds(30)

    static let spec = CommandSpec(
        path: "readiness-probe \(name)", summary: "Run the checks once and report the result to a monitoring system.",
        usage: "kuberhealthy [--config PATH] [--timeout D] [--only NAMES] [--exclude NAMES] [--dry-run]",
        options: [
            CLI.configOption,
            OptionSpec("--timeout", short: "-t", value: "DURATION", help: "Deadline of the check run (default: [probe] timeout; cut to fit KH_CHECK_RUN_DEADLINE)."),
        ] + CLI.selectionOptions + [
            OptionSpec("--dry-run", help: "Print the report body instead of sending it."),
        ],
        maxPositionals: 1,
        discussion: """
        Targets: kuberhealthy. Reads KH_REPORTING_URL (http:// only), KH_RUN_UUID and, if set,
        KH_CHECK_RUN_DEADLINE (Unix seconds; the run and the report finish before it). POSTs
        {"OK":true,"Errors":[]} or {"OK":false,"Errors":["check: detail (code N)"]}; retries connection
        failures, timeouts and 5xx with backoff, never 400 or 410.
        Exit status: 0 when the report was accepted (whatever the checks said); 10 when it was refused or
        not delivered in time; 8 when the environment or command line is invalid. See docs/kuberhealthy.md.
        """,
        examples: [
            CommandExample("report kuberhealthy", "In a Kuberhealthy external check pod: run once and report to KH_REPORTING_URL."),
            CommandExample("report kuberhealthy --dry-run", "Print the report body instead of sending it."),
        ],
        arguments: ["kuberhealthy"])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        guard let target = args.positionals.first else { throw spec.usageError("which system? (report kuberhealthy)") }
        guard target == "kuberhealthy" else { throw spec.usageError("unknown report target \"\(target)\" (known: kuberhealthy)") }
        let timeoutArg = try ArgumentParser.duration(args, "--timeout", spec)
        let env = inv.environment
        let dryRun = args.has("--dry-run")
        let prefix = "readiness-probe report kuberhealthy"
        func envError(_ message: String) -> ExitError { ExitError(Codes.invalidConfig, "\(prefix): \(message)") }

        var destination: Kuberhealthy.Target?
        var uuid = ""
        if !dryRun {
            guard let url = env["KH_REPORTING_URL"], !url.isEmpty else {
                throw envError("KH_REPORTING_URL is not set (Kuberhealthy sets it in the check pod; use --dry-run to print the report)")
            }
            guard let u = env["KH_RUN_UUID"], !u.isEmpty else {
                throw envError("KH_RUN_UUID is not set (Kuberhealthy sets it in the check pod; it goes in the kh-run-uuid header)")
            }
            do throws(Kuberhealthy.URLError) { destination = try Kuberhealthy.parseURL(url) } catch { throw envError(error.description) }
            uuid = u
        }
        // The run's deadline, converted from wall-clock seconds to the monotonic clock once.
        var khDeadline: Deadline?
        if let text = env["KH_CHECK_RUN_DEADLINE"], !text.isEmpty {
            guard let seconds = Double(text.trimmingASCIIWhitespace()), seconds.isFinite else {
                throw envError("KH_CHECK_RUN_DEADLINE must be Unix seconds, not \"\(text)\"")
            }
            let left = seconds - Platform.epochSeconds()
            if left <= 0 {
                throw ExitError(Codes.reportNotAccepted,
                                "\(prefix): KH_CHECK_RUN_DEADLINE (\(text)) has already passed \(Decimal1.format(-left, digits: 1))s ago; not reporting (Kuberhealthy would answer 410 Gone)")
            }
            khDeadline = .after(.milliseconds(Int64(left * 1000)))
        }

        let config = try CLI.loadConfiguration(args, inv)
        let entries = try RunCommand.select(config.entries, only: args.list("--only"), exclude: args.list("--exclude"), spec: spec)
        var timeout = timeoutArg ?? config.settings.timeout
        if let khDeadline {
            // Leave a quarter of the time (at most 2 s) for the report itself.
            let left = khDeadline.remaining
            timeout = min(timeout, left - min(.seconds(2), left / 4))
        }
        let (report, signal) = RunCommand.runOnce(entries, settings: config.settings, timeout: timeout, who: prefix)
        if let signal { return 128 + signal }  // stopped: nothing is reported
        let body = JSON.serialize(Kuberhealthy.body(report))
        if dryRun {
            Platform.writeStdout(body + "\n")
            return 0
        }
        Platform.writeStdout(Render.render(report, as: .summary))
        let deadline = khDeadline ?? .after(defaultDeliveryBudget)
        let delivery = Kuberhealthy.deliver(body, to: destination!, uuid: uuid, deadline: deadline,
                                            log: { Platform.writeStderr("\(prefix): \($0)\n") })
        let url = env["KH_REPORTING_URL"] ?? ""
        if delivery.accepted {
            Platform.writeStderr("\(prefix): \(url): \(delivery.message), attempt \(delivery.attempts)\n")
            return 0
        }
        Platform.writeStderr("\(prefix): \(url): \(delivery.message)\n")
        return Codes.reportNotAccepted
    }
}
