// `readiness-probe listen`: the supervisord event listener (docs/event-listener.md).
// stdout is the protocol channel: nothing but protocol bytes is ever written to it.
import ProbeSupport

@preconcurrency import Glibc

enum ListenCommand: CLICommand {
    static let name = "listen"

    /// The events to subscribe to, as docs/event-listener.md's supervisord.conf has them (a test keeps them equal).
    static let events = "PROCESS_STATE,PROCESS_GROUP,TICK_5,SUPERVISOR_STATE_CHANGE"

    static let spec = CommandSpec(
        path: "readiness-probe \(name)",
        summary: "Supervisor event listener: keeps the program ledger, records critical exits, caches check results.",
        usage: "[--config PATH]",
        options: [CLI.configOption],
        discussion: """
            Run by supervisord as an [eventlistener] with events=\(events) (see docs/event-listener.md).
            Speaks the listener protocol on stdin/stdout; logs to stderr. Exits 0 when stdin is closed or on
            SIGTERM/SIGINT/SIGHUP (the ledger and the cached result are marked closed first).
            Writes <rundir>/readiness-probe/ledger.json (read by `run` with [supervisor] source = events or auto)
            and, on every TICK, <rundir>/readiness-probe/result.json (read by `run --cached`).
            """,
        examples: [CommandExample("listen --config /etc/readiness-probe/readiness-probe.conf",
                                  "As the command of supervisord's [eventlistener:readiness] section (events=\(events)).")])

    static let command = CLI.Command(name: name, spec: spec) { (args, inv) throws(ExitError) -> Int32 in
        // Before any thread exists, so every thread inherits the mask and only the signal thread
        // sees them (children get a clean mask from the spawner).
        let signals = [SIGTERM, SIGINT, SIGHUP]
        Platform.blockSignals(signals)
        let config = try CLI.loadConfiguration(args, inv)
        let listener = EventListener(configuration: config)
        let shutdown = listener.shutdownHandler
        PlainThread.detach { shutdown(Platform.waitForSignal(signals)) }
        listener.start()
        var loop = ListenerProtocol(input: 0, output: 1, log: { listener.log($0) })
        loop.side = listener.notifySideChannel
        let end = loop.run { listener.handle($0) }
        listener.finish()
        switch end {
        case .endOfInput:
            return 0
        case .readFailed(let why), .writeFailed(let why):
            listener.log("error: \(why)")
            return Codes.systemError
        }
    }
}
