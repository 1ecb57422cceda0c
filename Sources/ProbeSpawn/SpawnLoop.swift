// The poll loop: one thread watches every child's stdout, stderr and pidfd against its kill time.
// A `SpawnLoop` is used by exactly one thread (the probe runner's executor, ProcessRunner's loop
// thread, or a `runAll` caller).
@preconcurrency import Glibc
import CShim
import ProbeSupport

/// The bounded capture of one output pipe.
struct Capture {
    var fd: Int32
    let limit: Int
    var kept: [UInt8] = []
    var dropped = 0

    init(fd: Int32, limit: Int) {
        self.fd = fd
        self.limit = max(0, limit)
    }

    var isOpen: Bool { fd >= 0 }

    /// Reads what is available without blocking (at most `maxReads` reads, to stay fair to
    /// other children). Closes the pipe at end of file or on an error.
    mutating func drain(_ buffer: UnsafeMutableRawBufferPointer, maxReads: Int = 64) {
        var reads = 0
        while fd >= 0 && reads < maxReads {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                reads += 1
                let room = limit - kept.count
                if room > 0 {
                    let take = min(room, n)
                    kept.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<take]))
                    dropped += n - take
                } else {
                    dropped += n
                }
                continue
            }
            if n < 0 {
                let e = Platform.errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return }
            }
            closeFD()
        }
    }

    mutating func closeFD() {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}

final class WatchedChild {
    enum Phase {
        /// The leader has not been seen to exit, and nothing was killed.
        case running
        /// The group was SIGKILLed (a kill time passed, or the leader exited): reaping it.
        case reaping(since: ContinuousClock.Instant)
    }

    /// The caller's id for this child (unique within its loop).
    let id: Int
    let pid: pid_t
    let started: ContinuousClock.Instant
    let killAt: ContinuousClock.Instant
    /// What a kill at `killAt` means: `.timedOut` or `.deadlineExceeded`.
    let killReason: Termination
    var pidfd: Int32
    var out: Capture
    var err: Capture
    var phase: Phase = .running
    var killedAs: Termination?
    var leaderStatus: Int32?
    let complete: (ProcessOutcome) -> Void

    init(id: Int, spawned: SpawnedChild, spec: ProcessSpec, started: ContinuousClock.Instant, deadline: Deadline,
         complete: @escaping (ProcessOutcome) -> Void) {
        self.id = id
        pid = spawned.pid
        self.started = started
        let own = started + spec.timeout
        if own <= deadline.instant {
            killAt = own
            killReason = .timedOut
        } else {
            killAt = deadline.instant
            killReason = .deadlineExceeded
        }
        out = Capture(fd: spawned.stdoutFD, limit: spec.outputLimit)
        err = Capture(fd: spawned.stderrFD, limit: spec.outputLimit)
        pidfd = cshim_pidfd_open(spawned.pid)
        self.complete = complete
    }

    var isRunning: Bool { if case .running = phase { return true } else { return false } }
}

/// Runs children on the calling thread: `start` them, then call `step` until `isEmpty`. Other
/// threads wake a `step` through the file descriptors it is given (`wakeFDs`).
public final class SpawnLoop {
    /// How often a group being reaped is re-checked (its members' deaths wake nothing).
    static let reapTick: Duration = .milliseconds(2)
    /// How often the leader is checked when pidfd_open is unavailable.
    static let waitTick: Duration = .milliseconds(10)
    /// How long SIGKILLed processes may take to become reapable before the outcome is reported
    /// anyway (a process in uninterruptible sleep); the rest is swept later by `Reaper`.
    static let reapGrace: Duration = .seconds(1)

    /// In start order; an array, not a dictionary by id (docs/architecture.md, "The probe path").
    private(set) var children: [WatchedChild] = []
    private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

    public init() {}

    deinit { buffer.deallocate() }

    public var isEmpty: Bool { children.isEmpty }

    /// Starts `spec` and watches it; `complete` is called on this loop's thread when it is done
    /// (at once when it cannot be started or the deadline has already passed).
    public func start(id: Int, _ spec: ProcessSpec, deadline: Deadline, complete: @escaping (ProcessOutcome) -> Void) {
        _ = Reaper.isSubreaper
        let started = ContinuousClock.now
        if deadline.instant <= started {
            complete(ProcessOutcome(termination: .deadlineExceeded))
            return
        }
        switch Spawner.spawn(spec) {
        case .failure(let f):
            complete(ProcessOutcome(termination: .spawnFailed(errno: f.errno, message: f.message),
                                    duration: ContinuousClock.now - started))
        case .success(let spawned):
            children.append(WatchedChild(id: id, spawned: spawned, spec: spec, started: started, deadline: deadline,
                                         complete: complete))
        }
    }

    /// The caller gave up on `id` (task cancellation): kill it now.
    public func cancel(id: Int) {
        guard let c = children.first(where: { $0.id == id }), c.isRunning else { return }
        kill(c, as: .deadlineExceeded, now: .now)
    }

    /// One round: poll (at most until `until`, or for ever when nil and nothing is due), read
    /// output, notice exits, kill children past their time, reap, and complete finished ones.
    /// A readable `wakeFDs` also ends the poll (the caller drains it); returns whether one was.
    @discardableResult
    public func step(wakeFDs: [Int32], until: ContinuousClock.Instant?) -> Bool {
        enum Slot { case extra, out(WatchedChild), err(WatchedChild), pidfd(WatchedChild) }
        var fds: [pollfd] = []
        var slots: [Slot] = []
        func watch(_ fd: Int32, _ slot: Slot) {
            fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            slots.append(slot)
        }
        for fd in wakeFDs where fd >= 0 { watch(fd, .extra) }
        var wake = until
        func due(_ t: ContinuousClock.Instant) { wake = wake.map { min($0, t) } ?? t }
        let now = ContinuousClock.now
        for c in children {
            if c.out.isOpen { watch(c.out.fd, .out(c)) }
            if c.err.isOpen { watch(c.err.fd, .err(c)) }
            if c.pidfd >= 0 { watch(c.pidfd, .pidfd(c)) }
            switch c.phase {
            case .running:
                due(c.killAt)
                if c.pidfd < 0 { due(now + Self.waitTick) }
            case .reaping:
                due(now + Self.reapTick)
            }
        }
        let timeout: Int32 = wake.map { Deadline($0).pollTimeout } ?? -1
        let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }

        var extraReadable = false
        var exited: [WatchedChild] = []
        if ready > 0 {
            for (i, p) in fds.enumerated() where p.revents != 0 {
                switch slots[i] {
                case .extra: extraReadable = true
                case .out(let c): c.out.drain(buffer)
                case .err(let c): c.err.drain(buffer)
                case .pidfd(let c):
                    close(c.pidfd)
                    c.pidfd = -1
                    if c.isRunning { exited.append(c) }
                }
            }
        }

        let after = ContinuousClock.now
        for c in exited { leaderExited(c, now: after) }
        var finished: [WatchedChild] = []
        for c in children {
            switch c.phase {
            case .running:
                if c.pidfd < 0 && leaderHasExited(c.pid) {
                    leaderExited(c, now: after)
                } else if after >= c.killAt {
                    kill(c, as: c.killReason, now: after)
                }
            case .reaping:
                break
            }
            if case .reaping(let since) = c.phase {
                let result = Reaper.reapGroup(c.pid, leaderStatus: &c.leaderStatus)
                let done = result == .allReaped
                if done || after - since >= Self.reapGrace {
                    finish(c, fullyReaped: done, now: after)
                    finished.append(c)
                }
            }
        }
        if !finished.isEmpty {
            children.removeAll { c in finished.contains { $0 === c } }
            let outcomes = finished.map { c in (c, outcome(c, now: after)) }
            Reaper.sweep()
            for (c, o) in outcomes { c.complete(o) }
        }
        return extraReadable
    }

    /// Runs rounds until every child has completed.
    func runToCompletion() {
        while !children.isEmpty { step(wakeFDs: [], until: nil) }
    }

    // MARK: transitions

    /// The leader exited by itself: SIGKILL the rest of its group (stragglers), then reap.
    /// The leader is still unreaped here, so its pid cannot have been reused as a group id.
    private func leaderExited(_ c: WatchedChild, now: ContinuousClock.Instant) {
        guard c.isRunning else { return }
        _ = killpg(c.pid, SIGKILL)
        c.phase = .reaping(since: now)
    }

    private func kill(_ c: WatchedChild, as reason: Termination, now: ContinuousClock.Instant) {
        guard c.isRunning else { return }
        _ = killpg(c.pid, SIGKILL)
        c.killedAs = reason
        c.phase = .reaping(since: now)
    }

    /// Without pidfd: has the leader exited? Asks without reaping it (WNOWAIT), so its pid keeps
    /// the group id reserved until the group has been killed.
    private func leaderHasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if rc != 0 { return Platform.errno == ECHILD }
        return info.si_signo == SIGCHLD
    }

    /// Takes what the pipes still hold (everything in the group is dead, so nothing more can come
    /// unless a process outside the group holds them: those are not waited for), closes all.
    private func finish(_ c: WatchedChild, fullyReaped: Bool, now: ContinuousClock.Instant) {
        // Bounded: with every writer dead a pipe holds at most its buffer (64 KiB by default); a
        // writer outside the group must not keep this loop reading for ever.
        c.out.drain(buffer, maxReads: 32)
        c.err.drain(buffer, maxReads: 32)
        c.out.closeFD()
        c.err.closeFD()
        if c.pidfd >= 0 { close(c.pidfd); c.pidfd = -1 }
        Reaper.release(c.pid, fullyReaped: fullyReaped)
    }

    private func outcome(_ c: WatchedChild, now: ContinuousClock.Instant) -> ProcessOutcome {
        let termination: Termination
        if let killed = c.killedAs {
            termination = killed
        } else if let status = c.leaderStatus {
            termination = Self.decode(status)
        } else {
            // Another waiter in this process took the leader's status (waitpid(-1) elsewhere).
            termination = .exited(-1)
        }
        return ProcessOutcome(termination: termination, stdout: c.out.kept, stdoutDropped: c.out.dropped,
                              stderr: c.err.kept, stderrDropped: c.err.dropped, duration: now - c.started, pid: c.pid)
    }

    static func decode(_ status: Int32) -> Termination {
        if cshim_wifexited(status) != 0 { return .exited(cshim_wexitstatus(status)) }
        if cshim_wifsignaled(status) != 0 { return .signaled(cshim_wtermsig(status)) }
        return .exited(-1)
    }
}
