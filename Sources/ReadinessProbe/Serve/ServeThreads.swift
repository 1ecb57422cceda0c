// serve's start-up guards: the signal thread and Swift's task pool must be able to start before
// serve says it listens, and SIGTERM must work even when something else has wedged.
import ProbeSupport

@preconcurrency import Glibc

enum ServeThreads {
    /// Starts the thread that receives SIGTERM/SIGINT (the caller has blocked them in every thread).
    /// On a signal it calls `onSignal`; if the process is still running `grace` later (the main
    /// thread wedged), it says so and exits 14 itself. Fails with code 14 and the reason when the
    /// thread cannot be created, instead of running the waiter inline (which blocked serve).
    static func startSignalWaiter(grace: Duration, onSignal: @escaping @Sendable (Int32) -> Void) throws(ExitError) {
        let rc = PlainThread.start {
            let signal = Platform.waitForSignal([SIGTERM, SIGINT])
            onSignal(signal)
            let deadline = Deadline.after(grace)
            while !deadline.hasPassed { _ = poll(nil, 0, deadline.pollTimeout) }
            Platform.writeStderr("serve: still running \(DurationText.format(grace)) after \(Signals.name(signal)): exiting with 14\n")
            _exit(Codes.systemError)
        }
        if rc != 0 {
            throw ExitError(Codes.systemError,
                            "readiness-probe serve: cannot start the signal thread: \(Platform.describe(errno: rc))\(ProcessResources.memoryHint(errno: rc))")
        }
    }

    /// Address space serve needs beyond what it has mapped at start (buffers, hook spawns, the
    /// runner's allocations), checked at start so that a tight `ulimit -v` fails there with a message.
    static let headroomBytes = 2 << 20

    /// Checks that threads for Swift's task pool can start (libdispatch retries a failed thread
    /// creation forever, on the thread that queued the work) and that some address space is left;
    /// fails with code 14 and the reason.
    static func preflight() throws(ExitError) {
        if let e = ProcessResources.threadPreflight(count: 4) {
            throw ExitError(Codes.systemError,
                            "readiness-probe serve: cannot start the threads that run the checks: \(Platform.describe(errno: e))\(ProcessResources.memoryHint(errno: e))")
        }
        if let e = ProcessResources.addressSpaceHeadroom(headroomBytes) {
            throw ExitError(Codes.systemError,
                            "readiness-probe serve: not enough memory to run: \(Platform.describe(errno: e))\(ProcessResources.memoryHint(errno: e))")
        }
    }
}
