// Reaping: which process groups belong to a running loop, groups whose members outlived their
// reap grace, and orphans re-parented to this process (it is a child subreaper).
@preconcurrency import Glibc
import CShim
import ProbeSupport
import Synchronization

enum Reaper {
    struct State {
        /// Process groups (= leader pids) that a loop is watching; the loop reaps them itself.
        var active = PidSet()
        /// Groups that were SIGKILLed but not fully reaped within the grace; swept later.
        var lingering = PidSet()
        /// Children that other code of this process started and waits for itself (see
        /// `ForeignChildren`): never reaped or killed as orphans, whatever their process group.
        var foreign = PidSet()
    }

    static let state = Mutex(State())

    /// Whether `prctl(PR_SET_CHILD_SUBREAPER)` succeeded. Evaluated once, on first use.
    static let isSubreaper: Bool = cshim_set_child_subreaper() == 0

    /// Runs `spawn` under the lock and registers the pid it returns, so that `sweep` never
    /// mistakes a just-started child for an orphan.
    static func registering(_ spawn: () -> (Int32, pid_t?)) -> Int32 {
        state.withLock { s in
            let (rc, pid) = spawn()
            if let pid { s.active.insert(pid) }
            return rc
        }
    }

    /// A loop is done with `pgid`: forget it, or keep sweeping it if members were left unreaped.
    static func release(_ pgid: pid_t, fullyReaped: Bool) {
        state.withLock { s in
            s.active.remove(pgid)
            if !fullyReaped { s.lingering.insert(pgid) }
        }
    }

    enum GroupReap { case allReaped, membersLeft }

    /// Reaps every waitable member of `pgid` without blocking. `leader` receives the leader's status.
    static func reapGroup(_ pgid: pid_t, leaderStatus: inout Int32?) -> GroupReap {
        while true {
            var status: Int32 = 0
            let r = waitpid(-pgid, &status, WNOHANG)
            if r > 0 {
                if r == pgid { leaderStatus = status }
                continue
            }
            if r == 0 { return .membersLeft }
            let e = Platform.errno
            if e == EINTR { continue }
            return .allReaped // ECHILD: nothing of this group is our child any more
        }
    }

    /// Reaps lingering groups, and zombie children of this process that belong to no group a loop
    /// watches and not to this process's own group (children other code started and will wait for).
    static func sweep() {
        // Cheap check first: scanning /proc costs milliseconds, peeking at the children does not.
        if state.withLock({ $0.lingering.isEmpty }) && !hasWaitableChild() { return }
        let myPid = getpid()
        let myGroup = getpgrp()
        var candidates: [pid_t] = []
        if let names = try? Platform.listDirectory("/proc") {
            for name in names {
                guard let pid = Int32(name), pid != myPid,
                      let stat = procStat(pid), stat.state == "Z", stat.ppid == myPid, stat.pgrp != myGroup
                else { continue }
                candidates.append(pid)
            }
        }
        state.withLock { s in
            for pgid in s.lingering {
                var ignored: Int32?
                if reapGroup(pgid, leaderStatus: &ignored) == .allReaped { s.lingering.remove(pgid) }
            }
            for pid in candidates {
                // A zombie cannot change group or be reused until reaped: re-reading is enough.
                guard !s.foreign.contains(pid), let stat = procStat(pid), !s.active.contains(stat.pgrp),
                      !s.lingering.contains(stat.pgrp)
                else { continue }
                var status: Int32 = 0
                _ = waitpid(pid, &status, WNOHANG)
            }
        }
    }

    /// Kills (SIGKILL, to their whole process group) every live child of this process that no
    /// loop watches and that is not in this process's own group: processes that hooks left
    /// behind, even ones that escaped into a session of their own, which were re-parented here
    /// because this process is a child subreaper. Then reaps them. Returns how many were killed.
    static func killOrphans(wait: Duration = .milliseconds(500)) -> Int {
        // No child at all (the usual case: every hook was reaped): nothing to scan. This keeps
        // a /proc walk (hundreds of opens) off the probe's hot path.
        var info = siginfo_t()
        if waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT) != 0 && Platform.errno == ECHILD {
            return 0
        }
        let myPid = getpid()
        let myGroup = getpgrp()
        var killed: [pid_t] = []
        guard let names = try? Platform.listDirectory("/proc") else { return 0 }
        let (active, foreign) = state.withLock { ($0.active, $0.foreign) }
        for name in names {
            guard let pid = Int32(name), pid != myPid, let stat = procStat(pid), stat.ppid == myPid,
                  stat.pgrp != myGroup, !active.contains(stat.pgrp), !foreign.contains(pid), stat.state != "Z"
            else { continue }
            if kill(-stat.pgrp, SIGKILL) != 0 { kill(pid, SIGKILL) }
            killed.append(pid)
        }
        let deadline = Deadline.after(wait)
        var left = killed
        while !left.isEmpty && !deadline.hasPassed {
            left = left.filter { pid in
                var status: Int32 = 0
                let r = waitpid(pid, &status, WNOHANG)
                return r == 0
            }
            if !left.isEmpty { Platform.sleep(milliseconds: 2) }
        }
        sweep()
        return killed.count
    }

    /// Whether any child of this process has exited and is not yet reaped (peeks: reaps nothing).
    static func hasWaitableChild() -> Bool {
        var info = siginfo_t()
        return waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_signo == SIGCHLD
    }

    struct ProcStat {
        var state: Character
        var ppid: pid_t
        var pgrp: pid_t
    }

    /// Fields 3-5 of /proc/PID/stat (after the parenthesised command name, which may hold spaces).
    static func procStat(_ pid: pid_t) -> ProcStat? {
        guard let bytes = try? Platform.readFile("/proc/\(pid)/stat", limit: 4096),
              let close = bytes.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 3, let state = fields[0].first,
              let ppid = Int32(String(decoding: fields[1], as: UTF8.self)),
              let pgrp = Int32(String(decoding: fields[2], as: UTF8.self))
        else { return nil }
        return ProcStat(state: Character(Unicode.Scalar(state)), ppid: ppid, pgrp: pgrp)
    }
}

/// A handful of pids (the groups of one run's hooks); an array, not a `Set<pid_t>`
/// (docs/architecture.md, "The probe path").
struct PidSet: Sequence {
    private var pids: [pid_t] = []

    var isEmpty: Bool { pids.isEmpty }
    func contains(_ pid: pid_t) -> Bool { pids.contains(pid) }
    mutating func insert(_ pid: pid_t) { if !pids.contains(pid) { pids.append(pid) } }
    mutating func remove(_ pid: pid_t) { pids.removeAll { $0 == pid } }
    func makeIterator() -> IndexingIterator<[pid_t]> { pids.makeIterator() }
}

/// Children that code outside ProbeSpawn starts in this process and reaps itself (a test harness's
/// commands, an embedding program's helpers). ProbeSpawn's orphan sweep reaps or kills children
/// that belong to no loop and have left this process's group; a child that moves itself into a
/// group of its own (GNU `timeout` does, and so does anything started with its own process group)
/// would otherwise be reaped behind its owner's back, whose `waitpid` then fails with ECHILD.
/// Start such children inside `spawning` and call `release` once they are reaped.
public enum ForeignChildren {
    /// Runs `spawn` (which returns posix_spawn's result and the pid it started, if any) so that the
    /// sweep never sees the new child unregistered, and registers the pid.
    public static func spawning(_ spawn: () -> (Int32, pid_t?)) -> Int32 {
        Reaper.state.withLock { s in
            let (rc, pid) = spawn()
            if let pid { s.foreign.insert(pid) }
            return rc
        }
    }

    /// The owner has reaped `pid` (or given it up): the pid may be reused, forget it.
    public static func release(_ pid: pid_t) {
        Reaper.state.withLock { $0.foreign.remove(pid) }
    }
}
