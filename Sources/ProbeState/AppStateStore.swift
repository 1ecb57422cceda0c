// ProbeState: an application's own health state, kept in the same files as the `liveness` Python module.
//
//   <rundir>/<unit>/pid    the decimal process id of the application (written by `load`)
//   <rundir>/<unit>/error  a decimal error code, 0 meaning healthy (written by `set`)
//
// The module writes both files without a trailing newline; one is accepted when present. Writes here are
// atomic (a temporary file in the same folder, then rename), so a reader sees the old or the new content.
// See docs/state.md.
import Glibc
import ProbeSupport

/// A health function run by `AppStateStore.load` before the pid is recorded. Throwing means failing.
public protocol HealthCheck {
    /// A short name used in the error when the check fails.
    var name: String { get }
    /// Runs the check; returns when healthy, throws (any error, its description shown) when not.
    func check() throws
}

/// A health check made from a closure.
public struct HealthFunction: HealthCheck {
    public let name: String
    private let body: () throws -> Void

    public init(_ name: String, _ body: @escaping () throws -> Void) {
        self.name = name
        self.body = body
    }

    public func check() throws { try body() }
}

/// Why a state operation failed. Every case names what it is about: the unit, the check or the path.
public enum AppStateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The unit name is empty, `.`, `..`, or contains `/` or NUL. `source` says where it came from.
    case invalidUnit(unit: String, source: String, reason: String)
    /// The rundir is empty.
    case invalidRundir(String)
    /// `load` was given a pid that is not greater than 0.
    case invalidPID(Int32)
    /// A health check threw; nothing was written.
    case checkFailed(name: String, detail: String)
    /// The state folder could not be created.
    case makeDirectory(path: String, SystemError)
    /// A state file could not be written (read-only folder, no space, ...).
    case write(path: String, SystemError)
    /// A state file could not be removed.
    case remove(path: String, SystemError)
    /// The unit folder is not a folder the probe may write into (a symbolic link, a file, ...).
    case refused(FileAccessError)

    public var description: String {
        switch self {
        case let .invalidUnit(unit, source, reason):
            return "invalid unit name \(JSON.quote(unit)) (from \(source)): \(reason)"
        case let .invalidRundir(rundir):
            return "invalid rundir \(JSON.quote(rundir)): it is empty"
        case let .invalidPID(pid):
            return "invalid pid \(pid): it must be greater than 0"
        case let .checkFailed(name, detail):
            return "health check \(name) failed: \(detail); state not written"
        case let .makeDirectory(path, error):
            return "cannot create state folder \(path): \(error)"
        case let .write(path, error):
            return "cannot write state file \(path): \(error)"
        case let .remove(path, error):
            return "cannot remove state file \(path): \(error)"
        case let .refused(error):
            return "refusing state folder \(error.description)"
        }
    }
}

/// The pid/error state of one unit under a run folder.
public struct AppStateStore: Sendable, Equatable {
    /// The default run folder, as in the liveness module.
    public static let defaultRundir = "/run"
    /// The environment variable that names the unit, as in the liveness module.
    public static let unitVariable = "LIVENESS_UNIT_NAME"

    public let unit: String
    public let rundir: String
    /// `<rundir>/<unit>`
    public let directory: String
    public var pidPath: String { directory + "/pid" }
    public var errorPath: String { directory + "/error" }

    /// - Parameters:
    ///   - unit: the unit name; nil means `$LIVENESS_UNIT_NAME` if set and non-empty, else the host name.
    ///   - rundir: the run folder; nil means `/run`.
    ///   - environment: where `LIVENESS_UNIT_NAME` is looked up (default: the process environment).
    public init(unit: String? = nil, rundir: String? = nil,
                environment: Environment = .process) throws(AppStateError) {
        let source: String
        let name: String
        let fromEnvironment = environment[Self.unitVariable]
        if let unit {
            name = unit
            source = "the unit argument"
        } else if let fromEnvironment, !fromEnvironment.isEmpty {
            name = fromEnvironment
            source = Self.unitVariable
        } else {
            name = Platform.hostname()
            source = "the host name"
        }
        if let reason = Self.unitProblem(name) {
            throw .invalidUnit(unit: name, source: source, reason: reason)
        }
        let dir = rundir ?? Self.defaultRundir
        if dir.isEmpty { throw .invalidRundir(dir) }
        self.unit = name
        self.rundir = dir
        var base = dir
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        self.directory = (base == "/" ? "" : base) + "/" + name
    }

    /// Why `unit` cannot name a folder under the rundir, or nil when it can.
    public static func unitProblem(_ unit: String) -> String? {
        if unit.isEmpty { return "it is empty" }
        if unit == "." || unit == ".." { return "it must not be . or .." }
        if unit.utf8.contains(UInt8(ascii: "/")) { return "it must not contain /" }
        if unit.utf8.contains(0) { return "it must not contain a NUL byte" }
        return nil
    }

    // MARK: writing

    /// Runs `checks` in order; the first that throws stops `load` with `.checkFailed` and nothing is written.
    /// Then records `pid` in the pid file, atomically.
    ///
    /// `pid` defaults to this process's own pid (a Swift application records itself). The CLI
    /// `readiness-probe state load` passes its parent's pid instead, so a shell script records `$$`.
    public func load(pid: Int32 = Platform.processID, checks: [any HealthCheck] = []) throws(AppStateError) {
        if pid <= 0 { throw .invalidPID(pid) }
        for check in checks {
            do {
                try check.check()
            } catch {
                throw .checkFailed(name: check.name, detail: String(describing: error))
            }
        }
        try writeStateFile(pidPath, String(pid))
    }

    /// `load` with closures as checks; they are named `check 1`, `check 2`, ... in errors.
    public func load(pid: Int32 = Platform.processID, checks: [() throws -> Void]) throws(AppStateError) {
        try load(pid: pid, checks: checks.enumerated().map { HealthFunction("check \($0.offset + 1)", $0.element) })
    }

    /// Records `error` (0 means healthy) in the error file, atomically.
    public func set(error: Int) throws(AppStateError) {
        try writeStateFile(errorPath, String(error))
    }

    /// Removes the pid and error files; files that are already gone are fine. The folder stays.
    /// A symbolic link in place of the unit folder is not followed (nothing is removed there).
    public func reset() throws(AppStateError) {
        let fd: Int32
        do { fd = try openUnitDirectory() } catch {
            switch error.problem.code {
            case .missing, .wrongType: return  // no folder: the state files cannot exist
            default: throw .refused(error)
            }
        }
        defer { close(fd) }
        for name in ["pid", "error"] {
            if unlinkat(fd, name, 0) != 0 && Platform.errno != ENOENT {
                throw .remove(path: directory + "/" + name, SystemError("unlink", path: directory + "/" + name))
            }
        }
    }

    /// Opens `<rundir>/<unit>` for reading or writing files in it: the rundir may be reached
    /// through symbolic links (it is configuration), the unit folder itself never is.
    func openUnitDirectory() throws(FileAccessError) -> Int32 {
        let base = try SafeFile.openDirectory(rundir, followLinks: true)
        defer { close(base) }
        return try SafeFile.openDirectory(directory: base, name: unit, displayPath: directory)
    }

    /// Writes atomically in the unit folder, which is created (0755, with the rundir) when missing.
    /// A symbolic link in place of the unit folder is refused, never written through.
    private func writeStateFile(_ path: String, _ text: String) throws(AppStateError) {
        let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
        let fd: Int32
        do { fd = try openUnitDirectory() } catch where error.problem == .missing {
            fd = try createUnitDirectory()
        } catch {
            if let e = error.problem.systemError { throw .write(path: path, e) }
            if error.problem.code == .wrongType, error.path != directory {
                // A file where the rundir (or a folder above it) should be.
                throw .makeDirectory(path: directory, SystemError("mkdir", path: error.path, errno: ENOTDIR))
            }
            throw .refused(error)
        }
        defer { close(fd) }
        do {
            try Platform.writeFileAtomically(directory: fd, name: name, displayPath: path, Array(text.utf8), mode: 0o644)
        } catch {
            throw .write(path: path, error)
        }
    }

    private func createUnitDirectory() throws(AppStateError) -> Int32 {
        do {
            try Platform.makeDirectories(rundir, mode: 0o755)
        } catch {
            throw .makeDirectory(path: directory, error)
        }
        let base: Int32
        do { base = try SafeFile.openDirectory(rundir, followLinks: true) } catch {
            if let e = error.problem.systemError { throw .makeDirectory(path: directory, e) }
            throw .refused(error)
        }
        defer { close(base) }
        if mkdirat(base, unit, 0o755) == 0 {
            // mkdir(2) applies the umask; the folder the module would create is 0755.
            if fchmodat(base, unit, 0o755, 0) != 0 { throw .makeDirectory(path: directory, SystemError("chmod", path: directory)) }
        } else if Platform.errno != EEXIST {
            throw .makeDirectory(path: directory, SystemError("mkdir", path: directory))
        }
        do { return try SafeFile.openDirectory(directory: base, name: unit, displayPath: directory) } catch {
            if let e = error.problem.systemError { throw .makeDirectory(path: directory, e) }
            throw .refused(error)
        }
    }

    // MARK: reading

    /// Reads both files as they are now. Never throws: a missing or unreadable file is part of the snapshot.
    /// Never follows a symbolic link under the rundir and never blocks (a FIFO is refused).
    public func read() -> AppStateSnapshot {
        let fd: Int32
        do { fd = try openUnitDirectory() } catch {
            var content = StateFileContent.from(error)
            if error.problem.code == .wrongType, error.path != directory { content = .missing }  // rundir is a file
            if case .symlink = error.problem { content = .unreadable(error) }
            return AppStateSnapshot(unit: unit, directory: directory, pidFile: content, errorFile: content)
        }
        defer { close(fd) }
        return AppStateSnapshot(unit: unit, directory: directory,
                                pidFile: StateFileContent.read(directory: fd, name: "pid", displayPath: pidPath),
                                errorFile: StateFileContent.read(directory: fd, name: "error", displayPath: errorPath))
    }

    /// Reads the files and applies the health rule (see `AppHealth`).
    public func evaluate() -> AppHealth {
        AppHealth(read())
    }
}
