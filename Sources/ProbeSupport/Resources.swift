@preconcurrency import Glibc
import CShim

/// Process resources a long-running command depends on: thread stacks, open files, the virtual
/// memory limit (for messages). See docs/reliability.md (low memory, descriptor limits).
public enum ProcessResources {
    /// The stack of every thread the probe creates, its own and libdispatch's (Swift's task pool).
    static let threadStackBytes = 512 * 1024

    /// Keeps the address space small, so that a tight `ulimit -v` (RLIMIT_AS) leaves room to work.
    /// Call first thing in main, before any thread exists.
    /// - Threads created with default attributes (libdispatch's workers, which run Swift's tasks)
    ///   get `threadStackBytes` instead of RLIMIT_STACK (8 MiB): an 8 MiB stack could not be
    ///   mapped, and libdispatch retries a failed thread creation forever.
    /// - One malloc arena: glibc reserves 64 MiB of address space per arena, one per thread that
    ///   allocates; a reservation that failed left malloc returning NULL inside Swift's runtime.
    public static func useSmallAddressSpace() {
        _ = cshim_set_default_thread_stack(threadStackBytes)
        _ = cshim_single_malloc_arena()
    }

    /// Starts `count` threads with default attributes at once and joins them: nil when they all
    /// started, else the errno. Call before handing work to Swift's task pool, which cannot fail
    /// cleanly when it cannot create a thread.
    public static func threadPreflight(count: Int) -> Int32? {
        let rc = cshim_thread_preflight(Int32(count))
        return rc == 0 ? nil : rc
    }

    /// Whether `bytes` more of address space can be mapped now (under `ulimit -v`): nil, or the errno.
    public static func addressSpaceHeadroom(_ bytes: Int) -> Int32? {
        let rc = cshim_address_space_headroom(bytes)
        return rc == 0 ? nil : rc
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return 1024 }
        if r.rlim_cur < r.rlim_max {
            var raised = r
            raised.rlim_cur = r.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { r = raised }
        }
        return r.rlim_cur == rlim_t.max ? Int.max : Int(clamping: r.rlim_cur)
    }

    /// The soft RLIMIT_NOFILE.
    public static var openFileLimit: Int {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return 1024 }
        return r.rlim_cur == rlim_t.max ? Int.max : Int(clamping: r.rlim_cur)
    }

    /// The virtual memory limit (RLIMIT_AS, `ulimit -v`) in bytes, or nil when unlimited.
    static var virtualMemoryLimit: Int? {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &r) == 0, r.rlim_cur != rlim_t.max else { return nil }
        return Int(clamping: r.rlim_cur)
    }

    /// " (the virtual memory limit, ulimit -v, is 14000 KiB)" when one is set and the error is a
    /// memory or thread shortage; else "".
    public static func memoryHint(errno e: Int32) -> String {
        guard e == ENOMEM || e == EAGAIN, let limit = virtualMemoryLimit else { return "" }
        return " (the virtual memory limit, ulimit -v, is \(limit / 1024) KiB)"
    }
}
