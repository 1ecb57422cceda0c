@preconcurrency import Glibc
import Synchronization

/// Bridges between blocking code and Swift concurrency without tying up the
/// cooperative pool (2 threads on 2 cores).
public enum Blocking {
    /// Runs `body` on a new thread and returns its result to the awaiting task, so a
    /// blocking call (a socket read with a deadline) never occupies a pool thread.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            PlainThread.detach { c.resume(returning: body()) }
        }
    }

    /// Runs async `body` from synchronous code (the CLI's main thread) and waits for it.
    public static func await<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let box = Mutex<T?>(nil)
        var sem = sem_t()
        sem_init(&sem, 0, 0)
        defer { sem_destroy(&sem) }
        let semPtr = UnsafeSendablePointer(pointer: withUnsafeMutablePointer(to: &sem) { $0 })
        Task.detached {
            let v = await body()
            box.withLock { $0 = v }
            sem_post(semPtr.pointer)
        }
        while sem_wait(semPtr.pointer) != 0 {}
        return box.withLock { $0! }
    }
}

struct UnsafeSendablePointer<T>: @unchecked Sendable { let pointer: UnsafeMutablePointer<T> }

/// Plain pthreads with the project's 512 KiB stack, for blocking work that must not hold a Swift
/// concurrency thread (the supervisord fetch, the listener's background runs, the gRPC loop).
public enum PlainThread {
    private final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts a detached pthread running `body`. Created here, in a nonisolated library
    /// function, so the closure is never inferred @MainActor.
    public static func detach(_ body: @escaping @Sendable () -> Void) {
        if create(body, stackBytes: 512 * 1024) != 0 {
            // Could not start a thread: run inline rather than lose the work.
            body()
        }
    }

    /// Starts a detached pthread running `body`, with a small explicit stack; returns 0, or
    /// pthread_create's errno (then `body` never runs). For threads the caller cannot do without
    /// (a signal waiter): `detach` would run such a body inline and block the caller.
    public static func start(_ body: @escaping @Sendable () -> Void) -> Int32 {
        create(body, stackBytes: 128 * 1024)
    }

    /// pthread_create of a detached thread running `body`; returns its errno (0: started).
    private static func create(_ body: @escaping @Sendable () -> Void, stackBytes: Int) -> Int32 {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, stackBytes)
        let rc = pthread_create(&tid, &attr, { raw in
            let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 { Unmanaged<Box>.fromOpaque(box).release() }
        return rc
    }
}
