// `readiness-probe notify`: a drop-in for systemd-notify in scripts run by supervisord.
// docs/notify.md is the manual.
import ProbeSupport

@preconcurrency import Glibc

enum NotifyCommand: CLICommand {
    static let name = "notify"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)",
        summary: "Send sd_notify messages to $NOTIFY_SOCKET (a drop-in for systemd-notify).",
        usage: "[--ready] [--status TEXT] [--reloading] [--stopping] [--pid PID] [--no-block] [KEY=VALUE...] | --booted | --socket-path [--config PATH]",
        options: [
            OptionSpec("--ready", help: "READY=1: the program is ready."),
            OptionSpec("--status", value: "TEXT", help: "STATUS=TEXT: a one-line status shown in the probe's detail."),
            OptionSpec("--reloading", help: "RELOADING=1: not ready until the next READY=1."),
            OptionSpec("--stopping", help: "STOPPING=1: the program is stopping (not ready)."),
            OptionSpec("--pid", value: "PID", help: "MAINPID=PID (\"auto\" or \"parent\": this command's parent): the program's main process."),
            OptionSpec("--no-block", help: "Do not wait for the listener to read the message (no BARRIER=1)."),
            OptionSpec("--booted", help: "Exit 0 if the system was booted with systemd: always 1 under supervisord."),
            OptionSpec("--socket-path", help: "Print the notify socket's address for the configuration, and exit."),
            CLI.configOption,
        ],
        maxPositionals: 64,
        discussion: """
            Sends one datagram of newline-separated KEY=VALUE lines to $NOTIFY_SOCKET (a path, or @name for the
            abstract namespace), then BARRIER=1 with a file descriptor, and waits up to 5s for the listener to
            close it, so the message is read while this process still exists (the listener attributes it to the
            supervisord program this command descends from). Exit 0 when sent; 1 when $NOTIFY_SOCKET is unset or
            the message could not be delivered (as systemd-notify); 8 for a bad command line.
            In supervisord.conf: environment=NOTIFY_SOCKET="<the path --socket-path prints>".
            """,
        examples: [
            CommandExample("notify --ready --status=\"listening on 8080\"", "In a program's start script: it is ready (READY=1, STATUS=)."),
            CommandExample("notify --socket-path", "Print the socket address for environment=NOTIFY_SOCKET=\"...\"."),
        ])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        if args.has("--socket-path") {
            let config = try CLI.loadConfiguration(args, inv)
            guard let address = NotifyHub.address(config.settings) else {
                throw ExitError(Codes.invalidConfig, "readiness-probe notify: the notify socket path is too long for a unix socket")
            }
            Platform.writeStdout(address.text + "\n")
            return 0
        }
        if args.has("--booted") { return 1 }
        var m = NotifyMessage()
        m.ready = args.has("--ready")
        m.reloading = args.has("--reloading")
        m.stopping = args.has("--stopping")
        m.status = args.value("--status")
        if let p = args.value("--pid") {
            if p == "auto" || p == "parent" { m.mainPID = Int(Platform.parentProcessID) }
            else if let n = Int(p), n > 1 { m.mainPID = n }
            else { throw spec.usageError("--pid must be a process id greater than 1, auto or parent, not \"\(p)\"") }
        }
        var lines: [String] = []
        let encoded = String(decoding: m.encoded, as: UTF8.self)
        if !encoded.isEmpty { lines.append(encoded) }
        for a in args.positionals {
            guard let eq = a.firstIndex(of: "="), eq != a.startIndex, !a.contains("\n") else {
                throw spec.usageError("\"\(a)\" is not a KEY=VALUE assignment")
            }
            lines.append(a)
        }
        if lines.isEmpty {
            throw spec.usageError("nothing to send: give --ready, --status, --reloading, --stopping, --pid or KEY=VALUE")
        }
        guard let env = inv.environment["NOTIFY_SOCKET"], !env.isEmpty else {
            Platform.writeStderr("readiness-probe notify: No status data could be sent: $NOTIFY_SOCKET was not set\n")
            return 1
        }
        guard let address = NotifyAddress(env) else {
            Platform.writeStderr("readiness-probe notify: $NOTIFY_SOCKET \"\(env)\" is not an absolute path or @name\n")
            return 1
        }
        let bytes = Array(lines.joined(separator: "\n").utf8)
        if bytes.count > NotifyMessage.maxBytes {
            Platform.writeStderr("readiness-probe notify: the message is \(bytes.count) bytes (at most \(NotifyMessage.maxBytes))\n")
            return 1
        }
        // Blocking (the default): a socket that is not there yet (ENOENT) or not bound (ECONNREFUSED)
        // is retried until the same 5 s deadline as the barrier. supervisord starts programs right
        // after the listener, so a program that reports at once can come before the listener has
        // bound the socket; one lost READY=1 would leave it at code 12 until it restarts.
        let deadline = Deadline.after(.seconds(5))
        while true {
            do throws(SystemError) {
                if args.has("--no-block") {
                    try NotifySocket.send(bytes, to: address)
                } else if try !NotifySocket.sendWithBarrier(bytes, to: address, timeout: deadline.remaining) {
                    Platform.writeStderr("readiness-probe notify: the message was sent, but \(address) did not read it within 5s (is `readiness-probe listen` running?)\n")
                    return 1
                }
                return 0
            } catch {
                let notYet = !args.has("--no-block") && (error.errno == ENOENT || error.errno == ECONNREFUSED)
                if notYet && !deadline.hasPassed {
                    Platform.sleep(milliseconds: 20)
                    continue
                }
                Platform.writeStderr("readiness-probe notify: cannot send to \(address): \(error.message)"
                                     + (notYet ? " (tried for 5s)" : "") + "\n")
                return 1
            }
        }
    }
}
