// Starting one child with posix_spawn: argv only (never a shell), its own process group,
// an empty signal mask, default dispositions, stdin from /dev/null, stdout and stderr on pipes.
@preconcurrency import Glibc
import CShim
import ProbeSupport

/// A started child: its pid (also its process group id) and the read ends of its output pipes.
struct SpawnedChild {
    var pid: pid_t
    var stdoutFD: Int32
    var stderrFD: Int32
}

/// Why a child could not be started: errno and a message that names the path.
struct SpawnFailure: Error {
    var errno: Int32
    var message: String
}

enum Spawner {
    /// Where a bare program name is looked up when PATH is unset (glibc's default).
    static let defaultSearchPath = "/bin:/usr/bin"

    /// Resolves argv[0]: a name containing `/` is used as is; a bare name is searched in this
    /// process's PATH, as posix_spawnp does (but without its fall-back to /bin/sh).
    static func resolve(_ name: String) -> Result<String, SpawnFailure> {
        if name.isEmpty { return .failure(SpawnFailure(errno: ENOENT, message: "cannot run an empty program name")) }
        if name.contains("/") { return .success(name) }
        let path = Platform.environment("PATH") ?? defaultSearchPath
        var denied: String?
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + name
            var st = stat()
            guard stat(candidate, &st) == 0, st.st_mode & S_IFMT != S_IFDIR else { continue }
            if access(candidate, X_OK) == 0 { return .success(candidate) }
            if denied == nil { denied = candidate }
        }
        if let denied {
            return .failure(SpawnFailure(errno: EACCES, message: "cannot run \(denied): \(Platform.describe(errno: EACCES))"))
        }
        return .failure(SpawnFailure(errno: ENOENT, message: "cannot run \(name): not found in PATH (\(path))"))
    }

    /// Starts `spec`. The child's pid is registered with `Reaper` atomically with the spawn.
    static func spawn(_ spec: ProcessSpec) -> Result<SpawnedChild, SpawnFailure> {
        guard let name = spec.argv.first else {
            return .failure(SpawnFailure(errno: EINVAL, message: "cannot run an empty command (argv is empty)"))
        }
        // `path` names the program in messages; `execPath` is what posix_spawn executes.
        let path: String
        var execPath: String
        if let exe = spec.executable {
            path = exe.path
            execPath = "/proc/self/fd/\(ExecutableFile.childFD)"
        } else {
            switch resolve(name) {
            case .success(let p): path = p
            case .failure(let f): return .failure(f)
            }
            execPath = path
        }
        if let dir = spec.workingDirectory {
            var st = stat()
            if stat(dir, &st) != 0 {
                let e = Platform.errno
                return .failure(SpawnFailure(errno: e, message: "cannot run \(path): working directory \(dir): \(Platform.describe(errno: e))"))
            }
            if st.st_mode & S_IFMT != S_IFDIR {
                return .failure(SpawnFailure(errno: ENOTDIR, message: "cannot run \(path): working directory \(dir) is not a folder"))
            }
        }

        guard let out = makePipe() else { return .failure(setupFailure("pipe", path)) }
        guard let err = makePipe() else {
            let f = setupFailure("pipe", path)
            close(out.read); close(out.write)
            return .failure(f)
        }
        func closeAll() { for fd in [out.read, out.write, err.read, err.write] { close(fd) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attr = posix_spawnattr_t()
        let attrRC = cshim_spawnattr_setup(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        if attrRC != 0 {
            closeAll()
            return .failure(SpawnFailure(errno: attrRC, message: "cannot run \(path): spawn attributes: \(Platform.describe(errno: attrRC))"))
        }
        var rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if rc == 0 { rc = posix_spawn_file_actions_adddup2(&actions, out.write, 1) }
        if rc == 0 { rc = posix_spawn_file_actions_adddup2(&actions, err.write, 2) }
        if rc == 0, let exe = spec.executable { rc = posix_spawn_file_actions_adddup2(&actions, exe.fd, ExecutableFile.childFD) }
        if rc == 0, let dir = spec.workingDirectory { rc = cshim_spawn_addchdir(&actions, dir) }
        if rc == 0 { rc = cshim_spawn_addclosefrom(&actions, spec.executable == nil ? 3 : ExecutableFile.childFD + 1) }
        if rc != 0 {
            closeAll()
            return .failure(SpawnFailure(errno: rc, message: "cannot run \(path): spawn file actions: \(Platform.describe(errno: rc))"))
        }

        // argv[0] stays as the caller wrote it (a bare name stays bare), as a shell would pass it.
        var cargv: [UnsafeMutablePointer<CChar>?] = spec.argv.map { strdup($0) } + [nil]
        var cenv: [UnsafeMutablePointer<CChar>?]? = spec.environment.map { $0.map { strdup($0) } + [nil] }
        defer {
            for p in cargv { free(p) }
            if let cenv { for p in cenv { free(p) } }
        }

        var pid: pid_t = 0
        let spawnRC: Int32 = Reaper.registering {
            let rc: Int32
            if cenv != nil {
                rc = cenv!.withUnsafeMutableBufferPointer { env in
                    posix_spawn(&pid, execPath, &actions, &attr, &cargv, env.baseAddress)
                }
            } else {
                rc = posix_spawn(&pid, execPath, &actions, &attr, &cargv, environ)
            }
            return (rc, rc == 0 ? pid : nil)
        }
        close(out.write)
        close(err.write)
        if spawnRC != 0 {
            close(out.read); close(err.read)
            let file = spec.executable.map { "/proc/self/fd/\($0.fd)" } ?? path
            return .failure(SpawnFailure(errno: spawnRC, message: "cannot run \(path): \(explain(spawnRC, file: file))"))
        }
        return .success(SpawnedChild(pid: pid, stdoutFD: out.read, stderrFD: err.read))
    }

    /// Why exec failed, in words: ENOENT for a file that exists means its `#!` interpreter (or
    /// its ELF loader) is missing; ENOEXEC means neither a binary nor a script with a `#!` line.
    static func explain(_ e: Int32, file: String) -> String {
        guard e == ENOENT || e == ENOEXEC || e == EACCES else { return Platform.describe(errno: e) }
        var st = stat()
        if e == EACCES, stat(file, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_mode & 0o111 == 0 {
            return "it is not executable (mode \(String(st.st_mode & 0o7777, radix: 8)))"
        }
        guard let head = firstBytes(file) else { return Platform.describe(errno: e) }
        if head.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) {
            let line = head.dropFirst(2).prefix(while: { $0 != UInt8(ascii: "\n") })
            let words = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") })
            let interp = words.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            if interp.isEmpty { return "its #! line names no interpreter" }
            if e == ENOENT { return "its interpreter \(interp) (from the #! line) does not exist" }
            if e == EACCES { return "its interpreter \(interp) (from the #! line) is not executable" }
            return "its interpreter \(interp) (from the #! line) cannot be executed: \(Platform.describe(errno: e))"
        }
        if e == ENOEXEC { return "it is neither a binary for this system nor a script with a #! line; add a #! line (e.g. #!/bin/sh)" }
        if e == ENOENT, head.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
            return "its ELF interpreter (the dynamic loader it was linked for) does not exist"
        }
        return Platform.describe(errno: e)
    }

    /// The first bytes of a file that exists but may be huge or special (nil if it cannot be read).
    private static func firstBytes(_ file: String) -> [UInt8]? {
        let fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buf[0..<n]) : nil
    }

    private static func setupFailure(_ what: String, _ path: String) -> SpawnFailure {
        let e = Platform.errno
        return SpawnFailure(errno: e, message: "cannot run \(path): \(what): \(Platform.describe(errno: e))")
    }

    /// A close-on-exec pipe whose read end is non-blocking (the child's write end stays blocking)
    /// and whose ends are both >= 3, so that dup2 onto 1 and 2 never meets them.
    private static func makePipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard cshim_pipe_cloexec(&fds, 0) == 0 else { return nil }
        for i in 0..<2 where fds[i] < 3 {
            let moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)
            if moved < 0 {
                let e = Platform.errno
                close(fds[0]); close(fds[1])
                errno = e
                return nil
            }
            close(fds[i])
            fds[i] = moved
        }
        let flags = fcntl(fds[0], F_GETFL)
        _ = fcntl(fds[0], F_SETFL, flags | O_NONBLOCK)
        return (fds[0], fds[1])
    }
}
