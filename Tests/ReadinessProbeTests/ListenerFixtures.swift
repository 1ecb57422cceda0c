// Listener fixtures shared by the unit and end-to-end targets (ReadinessProbeEndToEndTests/ListenerFixtures.swift
// is a symlink to this file).
@preconcurrency import Glibc
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import SupervisorKit

/// One envelope as supervisord writes it (`len` counted in code points).
func envelope(_ serial: Int, _ name: String, _ payload: String, pool: String = "readiness") -> [UInt8] {
    Array("ver:3.0 server:supervisor serial:\(serial) pool:\(pool) poolserial:\(serial) eventname:\(name) len:\(payload.unicodeScalars.count)\n".utf8)
        + Array(payload.utf8)
}

func stateEvent(_ serial: Int, _ state: String, _ name: String, from: String = "RUNNING", extra: String = "") -> [UInt8] {
    envelope(serial, "PROCESS_STATE_\(state)", "processname:\(name) groupname:\(name) from_state:\(from)\(extra)")
}

/// A writer identity that verifies while the test runs: this process stands for both the
/// listener and supervisord.
func liveWriter() -> WriterIdentity { WriterIdentity.capture(supervisordPID: Int(getpid())) }

/// A configuration from INI text (rundir and serverurl filled in).
func listenerConfig(_ dir: TempDir, _ extra: String, serverURL: String? = nil) throws -> ProbeConfiguration {
    let text = """
        [probe]
        rundir = \(dir.path)/run
        hooks_dir =
        sonic_hook =
        [supervisor]
        serverurl = \(serverURL ?? "unix://\(dir.path)/no-such.sock")

        """ + extra
    var doc = INIDocument()
    doc.sections = try INI.parse(text, file: dir.file("probe.conf"))
    return try ProbeConfiguration.build(document: doc, configFile: nil, environment: [:])
}

/// Runs the protocol loop over a file (stdin) and a file (stdout); returns the end and the output bytes.
func replay(_ input: [UInt8], dir: TempDir, handle: (SupervisorEvent) -> (() -> Void)?) throws -> (ListenerProtocol.End, [UInt8], [String]) {
    let inPath = dir.file("in-\(UInt32.random(in: 0...UInt32.max))")
    let outPath = inPath + ".out"
    try Platform.writeFileAtomically(inPath, input)
    let inFD = open(inPath, O_RDONLY)
    let outFD = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    defer { close(inFD); close(outFD) }
    var logs: [String] = []
    let end = ListenerProtocol(input: inFD, output: outFD, log: { logs.append($0) }).run(handle)
    return (end, try Platform.readFile(outPath, limit: 64 << 20), logs)
}

func expectedReplies(_ n: Int) -> [UInt8] {
    ListenerProtocol.ready + Array((0..<n).map { _ in ListenerProtocol.okReady }.joined())
}
