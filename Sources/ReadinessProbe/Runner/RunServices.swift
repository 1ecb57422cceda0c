import ProbeSupport
import Synchronization

/// Work shared by the checks of one run. The first check that asks for a key starts the
/// work; every other check awaits the same result. (The supervisord snapshot is not shared
/// here: the run fetches it once, `CheckContext.supervisorSnapshot()`.)
public final class RunServices: Sendable {
    private let memo = Mutex<[String: Task<any Sendable, Never>]>([:])

    /// Services for one run (the runner makes one per run).
    public init() {}

    /// The value for `key` in this run: the first caller's `make` computes it, every other caller
    /// awaits the same value. Pick keys unlikely to clash (`com.example.disk`).
    public func shared<T: Sendable>(_ key: String, _ make: @escaping @Sendable () async -> T) async -> T {
        let task = memo.withLock { table -> Task<any Sendable, Never> in
            if let t = table[key] { return t }
            let t = Task<any Sendable, Never> { await make() }
            table[key] = t
            return t
        }
        if let value = await task.value as? T { return value }
        // The key is shared by a different type (two plugins chose the same key): do not
        // crash; compute this caller's value on its own.
        return await make()
    }
}
