// sd_notify over a real socket (SO_PASSCRED, SCM_RIGHTS barrier fds, abstract addresses, refusing files and
// symlinks) with the hub's attribution, and the `notify` command's exit statuses.
@preconcurrency import Glibc
import Testing
import Synchronization
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import SupervisorKit

@Suite struct NotifySocketTests {
    /// The hub over a real socket, with this test process as the program "me".
    func hubAndLedger(_ address: NotifyAddress) -> (NotifyHub, Ledger) {
        let hub = NotifyHub(address: address, log: { _ in })
        hub.open(mode: 0o666)
        var l = Ledger()
        l.seed([SupervisorProcess(name: "me", group: "me", state: .running, pid: Int(getpid()))], now: 1)
        return (hub, l)
    }

    func drainUntil(_ hub: NotifyHub, _ l: inout Ledger, _ n: Int) -> Int {
        var got = 0
        let deadline = Deadline.after(.seconds(10))
        while got < n && !deadline.hasPassed {
            got += hub.drain(&l, now: Platform.epochSeconds()).received
            if got < n { _ = Platform.waitReadable(hub.fd, milliseconds: 100) }
        }
        return got
    }

    @Test func pathSocketAttributesOwnPidAndClosesBarrierFds() throws {
        let dir = TempDir("nsock")
        let address = try #require(NotifyAddress(dir.file("notify.sock")))
        var (hub, l) = hubAndLedger(address)
        #expect(hub.info.error == nil && hub.fd >= 0)
        let mode = try #require(try Platform.fileInfo(address.text)).permissions
        #expect(mode == 0o666)
        try NotifySocket.send(Array("READY=1\nSTATUS=hi".utf8), to: address)
        // The barrier: the sender waits until the fd it passed is closed by the receiver.
        let waiter = PlainThread.detachReturning { try? NotifySocket.sendWithBarrier(Array("STATUS=two".utf8), to: address, timeout: .seconds(10)) }
        #expect(drainUntil(hub, &l, 3) == 3)
        #expect(waiter.join() == true)
        #expect(hub.info.fdsClosed == 1)
        #expect(l.entries[0].notify?.readyAt != nil && l.entries[0].notify?.status == "two")
        hub.socket.close()
        #expect(!Platform.exists(address.text), "the socket path is removed at the end")
    }

    @Test func abstractAddressAndBadDatagrams() throws {
        let address = try #require(NotifyAddress("@rp-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"))
        var (hub, l) = hubAndLedger(address)
        #expect(hub.fd >= 0, "\(hub.info.error ?? "")")
        try NotifySocket.send([UInt8](repeating: 0x41, count: 65536), to: address)
        try NotifySocket.send([0xFF, 0x00, 0x3D, 0x0A], to: address)
        try NotifySocket.send(Array("READY=1".utf8), to: address)
        #expect(drainUntil(hub, &l, 3) == 3)
        #expect(hub.info.oversized == 1 && hub.info.malformed == 1 && hub.info.applied == 1)
        #expect(l.entries[0].notify?.readyAt != nil)
    }

    @Test func unrelatedSenderIsNotTrusted() throws {
        let dir = TempDir("nsock")
        let address = try #require(NotifyAddress(dir.file("notify.sock")))
        let hub = NotifyHub(address: address, log: { _ in })
        hub.open(mode: 0o666)
        hub.supervisordPID = 999_998  // no such process: this test process descends from no supervisord
        var l = Ledger()
        l.seed([SupervisorProcess(name: "other", group: "other", state: .running, pid: 999_999)], now: 1)
        try NotifySocket.send(Array("READY=1".utf8), to: address)
        try NotifySocket.send(Array("READY=1\nMAINPID=999999".utf8), to: address)
        #expect(drainUntil(hub, &l, 2) == 2)
        #expect(hub.info.unattributed == 2 && l.entries[0].notify == nil)
    }

    @Test func existingFileOrSymlinkIsRefused() throws {
        let dir = TempDir("nsock")
        _ = try dir.write("file.sock", "not a socket")
        symlink(dir.file("target"), dir.file("link.sock"))
        for name in ["file.sock", "link.sock"] {
            let s = NotifySocket(address: try #require(NotifyAddress(dir.file(name))))
            #expect(throws: NotifySocket.OpenError.self) { try s.open() }
        }
        #expect(try Platform.readTextFile(dir.file("file.sock")) == "not a socket")
        #expect(!Platform.exists(dir.file("target")), "the symlink was not followed")
        // A stale socket (a previous listener's) is replaced.
        let path = try #require(NotifyAddress(dir.file("stale.sock")))
        let first = NotifySocket(address: path)
        try first.open()
        let second = NotifySocket(address: path)
        try second.open()
        #expect(second.fd >= 0)
    }
}

@Suite struct NotifyCommandTests {
    /// supervisord starts programs right after the listener: a program that reports at once can
    /// come before the socket is bound. `notify` (blocking) retries until its 5 s deadline instead
    /// of losing READY=1 (before: exit 1 at once, "No such file or directory"; the `quiet` program
    /// of NotifyLiveTests.perProgramWatchdogAndRestart lost its READY=1 so in 1 run of 4).
    @Test func waitsForASocketNotBoundYet() throws {
        let dir = TempDir("nlate")
        let path = dir.path + "/notify.sock"
        let got = Mutex<[String]>([])
        PlainThread.detach {
            Platform.sleep(milliseconds: 300)
            let server = NotifySocket(address: NotifyAddress(path)!)
            do { try server.open(mode: 0o666) } catch { return }
            let deadline = Deadline.after(.seconds(8))
            while !deadline.hasPassed {
                if let d = server.receive() {
                    let text = String(decoding: d.bytes, as: UTF8.self)
                    got.withLock { $0.append(text) }
                    if text.contains("BARRIER=1") { break }
                } else { Platform.sleep(milliseconds: 5) }
            }
            Platform.sleep(milliseconds: 200)
            server.close()
        }
        let started = ContinuousClock.now
        let r = Command.run([TestPaths.binary, "notify", "--ready", "--status=late"], environment: ["NOTIFY_SOCKET": path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        #expect(got.withLock { $0 }.contains { $0.contains("READY=1") && $0.contains("STATUS=late") }, "\(got.withLock { $0 })")
    }

    @Test func exitStatusesAsSystemdNotify() throws {
        let bin = TestPaths.binary
        let unset = Command.run([bin, "notify", "--ready"], clearEnvironment: true)
        #expect(unset.status == 1 && unset.stderr.contains("$NOTIFY_SOCKET was not set"))
        #expect(Command.run([bin, "notify", "--booted"]).status == 1)
        #expect(Command.run([bin, "notify"], environment: ["NOTIFY_SOCKET": "/nonexistent/x.sock"]).status == 8)
        #expect(Command.run([bin, "notify", "notakv"], environment: ["NOTIFY_SOCKET": "/nonexistent/x.sock"]).status == 8)
        let nobody = Command.run([bin, "notify", "--ready", "--no-block"], environment: ["NOTIFY_SOCKET": "/nonexistent/x.sock"])
        #expect(nobody.status == 1 && nobody.stderr.contains("cannot send"), "\(nobody.stderr)")
        let dir = TempDir("ncmd")
        let conf = try dir.write("p.conf", "[probe]\nrundir = \(dir.path)/run\n")
        let path = Command.run([bin, "notify", "--socket-path", "--config", conf])
        #expect(path.status == 0 && path.stdout == "\(dir.path)/run/readiness-probe/notify.sock\n")
        let awaitBad = Command.run([bin, "await", "x"])
        #expect(awaitBad.status == 8 && awaitBad.stderr.contains("after --"))
    }
}

extension PlainThread {
    /// Runs `body` on a new thread; `join()` waits for its result.
    static func detachReturning<T: Sendable>(_ body: @escaping @Sendable () -> T) -> Joinable<T> {
        let j = Joinable<T>()
        PlainThread.detach { j.set(body()) }
        return j
    }
}

final class Joinable<T: Sendable>: @unchecked Sendable {
    private var value: T?
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func set(_ v: T) { pthread_mutex_lock(&lock); value = v; pthread_mutex_unlock(&lock) }
    func join(timeout: Duration = .seconds(20)) -> T? {
        let d = Deadline.after(timeout)
        while !d.hasPassed {
            pthread_mutex_lock(&lock)
            let v = value
            pthread_mutex_unlock(&lock)
            if let v { return v }
            Platform.sleep(milliseconds: 5)
        }
        return nil
    }
}
