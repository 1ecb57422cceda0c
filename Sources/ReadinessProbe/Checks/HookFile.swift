// The one place where a hook's executable is found, checked and opened for exec (issue #11
// items 4, 5, 9; docs/hooks.md "Which files run"):
//
//   1. a bare command name is looked up in PATH; a hooks_dir entry is taken by its name's bytes;
//   2. every folder on the way is checked by TrustedPath (root's or ours, not writable by group
//      or others; symbolic links followed by hand and their folders checked too);
//   3. the file is opened O_PATH|O_NOFOLLOW and *that fd* is fstat'ed: a regular file, root's
//      or ours, not writable by group or others, executable;
//   4. that fd is what runs (ProcessSpec.executable: posix_spawn of /proc/self/fd/3), so a file
//      swapped in after the check never runs.
//
// HookCheck only calls `HookFile.open` and `HookFile.list`.
@preconcurrency import Glibc
import CShim
import ProbeSpawn
import ProbeSupport

/// Where a hook's executable is.
enum HookExecutable: Sendable, Equatable {
    /// A command's argv[0]: a path, or a bare name looked up in PATH.
    case command(String)
    /// An entry of hooks_dir, by its name's bytes (a name need not be UTF-8).
    case entry(directory: String, name: [UInt8])

    /// The path shown in results and messages (a name's odd bytes escaped: `caf\xe9`, `a\nb`).
    var displayPath: String {
        switch self {
        case .command(let name): return name
        case .entry(let dir, let name): return (dir.hasSuffix("/") ? dir : dir + "/") + ByteText.display(name)
        }
    }
}

/// Why a hook cannot run: the detail (naming the path, and the fix), a short summary, and whether
/// the file is simply missing (an `optional = true` hook is then skipped).
struct HookRefusal: Error, Sendable, Equatable {
    var detail: String
    var summary: String
    var missing: Bool = false
}

enum HookFile {
    /// Finds, checks and opens the executable. The result is what to execute.
    static func open(_ executable: HookExecutable, searchPath: String?) -> Result<ExecutableFile, HookRefusal> {
        switch executable {
        case .command(let name):
            guard let path = lookUp(name, searchPath: searchPath) else {
                let detail = name.contains("/") ? "\(name) does not exist" : "\(name) not found in PATH (\(searchPath ?? defaultPath))"
                return .failure(HookRefusal(detail: detail, summary: "hook executable missing", missing: true))
            }
            return openPath(path, shown: path)
        case .entry(let dir, let name):
            return openEntry(dir, name, shown: executable.displayPath)
        }
    }

    static let defaultPath = "/usr/local/bin:/usr/bin:/bin"

    /// A name with `/` as is; a bare name: the first PATH entry where it exists and is not a folder.
    static func lookUp(_ name: String, searchPath: String?) -> String? {
        if name.isEmpty { return nil }
        if name.contains("/") { return Platform.exists(name) || isSymlink(name) ? name : nil }
        for dir in (searchPath ?? defaultPath).split(separator: ":") {
            let candidate = dir + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, st.st_mode & S_IFMT != S_IFDIR { return candidate }
        }
        return nil
    }

    private static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }

    private static func openPath(_ path: String, shown: String) -> Result<ExecutableFile, HookRefusal> {
        var walker = TrustedPath()
        let real: String
        do { real = try walker.resolve(path) } catch {
            return .failure(refusal(error, shown: shown))
        }
        let fd = Glibc.open(real, O_NOFOLLOW | O_CLOEXEC | cshim_o_path())
        if fd < 0 {
            return .failure(refusal(SafeFile.openError(Platform.errno, directory: AT_FDCWD, name: real, displayPath: real), shown: shown))
        }
        return checkOpened(fd, real: real, shown: shown)
    }

    private static func openEntry(_ dir: String, _ name: [UInt8], shown: String) -> Result<ExecutableFile, HookRefusal> {
        var walker = TrustedPath()
        let realDir: String
        do { realDir = try walker.resolve(dir) } catch {
            return .failure(refusal(error, shown: shown))
        }
        let dirfd = Glibc.open(realDir, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | cshim_o_path())
        if dirfd < 0 {
            return .failure(refusal(SafeFile.openError(Platform.errno, directory: AT_FDCWD, name: realDir, displayPath: realDir), shown: shown))
        }
        defer { close(dirfd) }
        let cname = name.map { CChar(bitPattern: $0) } + [0]
        var st = stat()
        if fstatat(dirfd, cname, &st, AT_SYMLINK_NOFOLLOW) != 0 {
            return .failure(HookRefusal(detail: "\(shown) does not exist", summary: "hook executable missing", missing: true))
        }
        if st.st_mode & S_IFMT == S_IFLNK {
            // A link in hooks_dir: follow it by hand, checking the folders it leads through.
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(dirfd, cname, &buf, buf.count - 1)
            let bytes = n > 0 ? buf[0..<n].map { UInt8(bitPattern: $0) } : []
            let target = String(decoding: bytes, as: UTF8.self)
            guard n > 0, Array(target.utf8) == bytes else {
                return .failure(HookRefusal(detail: "\(shown) is a symbolic link whose target cannot be read as a path",
                                            summary: "hook refused: unusable symbolic link"))
            }
            return openPath(target.hasPrefix("/") ? target : realDir + "/" + target, shown: shown)
        }
        let fd = openat(dirfd, cname, O_NOFOLLOW | O_CLOEXEC | cshim_o_path())
        if fd < 0 {
            return .failure(refusal(SafeFile.openError(Platform.errno, directory: dirfd, name: String(cString: cname), displayPath: shown),
                                    shown: shown))
        }
        return checkOpened(fd, real: shown, shown: shown)
    }

    /// fstat of the opened fd: a regular file, root's or ours, not go-writable, executable.
    private static func checkOpened(_ fd: Int32, real: String, shown: String) -> Result<ExecutableFile, HookRefusal> {
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = SystemError("fstat", path: real)
            close(fd)
            return .failure(HookRefusal(detail: "cannot inspect \(real): \(e.message)", summary: "cannot start"))
        }
        do { try SafeFile.check(st, path: real, wanted: S_IFREG, policy: .trusted) } catch {
            close(fd)
            return .failure(refusal(error, shown: shown))
        }
        if !executableByUs(st) {
            close(fd)
            let mode = String(st.st_mode & 0o7777, radix: 8)
            return .failure(HookRefusal(detail: "\(real) is not executable (mode \(mode)); chmod +x \(real)",
                                        summary: "hook not executable"))
        }
        guard let file = ExecutableFile(adopting: fd, path: shown) else {
            return .failure(HookRefusal(detail: "cannot start \(shown): no file descriptor left", summary: "cannot start"))
        }
        return .success(file)
    }

    /// Whether the mode lets the probe's user execute it (root: any x bit).
    static func executableByUs(_ st: stat) -> Bool {
        let me = Platform.effectiveUserID
        if me == 0 { return st.st_mode & 0o111 != 0 }
        if st.st_uid == me { return st.st_mode & 0o100 != 0 }
        return st.st_mode & 0o011 != 0
    }

    static func refusal(_ error: FileAccessError, shown: String) -> HookRefusal {
        switch error.problem.code {
        case .missing:
            let detail = error.path == shown ? "\(shown) does not exist" : "\(shown): \(error.path) does not exist"
            return HookRefusal(detail: detail, summary: "hook executable missing", missing: true)
        case .owner, .writable:
            let detail = error.path == shown ? error.description : "\(shown): \(error.description)"
            return HookRefusal(detail: detail, summary: "hook refused: unsafe permissions")
        case .wrongType:
            let detail = error.path == shown ? error.description : "\(shown): \(error.description)"
            return HookRefusal(detail: detail, summary: error.problem.found == "a directory" ? "hook is a directory" : "hook is not a regular file")
        default:
            let detail = error.path == shown ? error.description : "\(shown): \(error.description)"
            return HookRefusal(detail: detail, summary: "cannot start")
        }
    }

    // MARK: hooks_dir

    /// One entry of hooks_dir that is not a hook, and why.
    struct Skipped: Sendable, Equatable {
        var path: String
        var reason: String
    }

    /// What hooks_dir holds: the hooks (name bytes, in bytewise order) and the entries skipped.
    struct Listing: Sendable {
        var hooks: [[UInt8]] = []
        var skipped: [Skipped] = []
    }

    /// Lists hooks_dir. A folder that was configured (`location` non-nil) must exist; any
    /// hooks_dir must be a folder, trusted (TrustedPath), else a ConfigError (code 8) naming it.
    static func list(directory dir: String, location: FileLocation?) throws(ConfigError) -> Listing {
        var walker = TrustedPath()
        let real: String
        do { real = try walker.resolve(dir) } catch {
            if error.problem == .missing {
                if location == nil { return Listing() }  // the default folder, not installed: no hooks
                throw ConfigError("hooks_dir \(dir) does not exist (\(error.path) is missing); create it or set hooks_dir = (empty) to turn hooks.d off",
                                  at: location)
            }
            throw ConfigError("hooks_dir \(dir): \(error.description)", at: location)
        }
        let fd: Int32
        do { fd = try SafeFile.openDirectory(real) } catch {
            if error.problem.code == .wrongType {
                throw ConfigError("hooks_dir \(dir) is \(error.problem.found), not a directory", at: location)
            }
            throw ConfigError("hooks_dir \(dir): \(error.description)", at: location)
        }
        defer { close(fd) }
        let names: [[UInt8]]
        do { names = try Platform.directoryEntries(fd) } catch {
            throw ConfigError("hooks_dir \(dir): cannot list it: \(error.message)", at: location)
        }
        var listing = Listing()
        for name in names {
            let shown = HookExecutable.entry(directory: dir, name: name).displayPath
            if let why = badName(name) {
                listing.skipped.append(Skipped(path: shown, reason: why))
                continue
            }
            let cname = name.map { CChar(bitPattern: $0) } + [0]
            var st = stat()
            guard fstatat(fd, cname, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }  // removed meanwhile
            var via = ""
            if st.st_mode & S_IFMT == S_IFLNK {
                if fstatat(fd, cname, &st, 0) != 0 {
                    listing.skipped.append(Skipped(path: shown, reason: "dangling symbolic link"))
                    continue
                }
                via = "symbolic link to "
            }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                if st.st_mode & 0o111 == 0 {
                    listing.skipped.append(Skipped(path: shown, reason: "\(via.isEmpty ? "" : "\(via)a file that is ")not executable (mode \(String(st.st_mode & 0o7777, radix: 8)))"))
                } else {
                    listing.hooks.append(name)
                }
            case S_IFDIR:
                listing.skipped.append(Skipped(path: shown, reason: via + "a directory"))
            default:
                listing.skipped.append(Skipped(path: shown, reason: via + SafeFile.typeName(st.st_mode) + ", not a regular file"))
            }
        }
        return listing
    }

    /// Hidden files and the leftovers of editors and package managers are not hooks.
    static func badName(_ name: [UInt8]) -> String? {
        if name.first == UInt8(ascii: ".") { return "hidden file (name starts with .)" }
        if name.last == UInt8(ascii: "~") { return "backup file (name ends with ~)" }
        for suffix in [".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-tmp", ".rpmnew", ".rpmsave", ".rpmorig", ".swp"]
        where name.count > suffix.utf8.count && name.suffix(suffix.utf8.count).elementsEqual(suffix.utf8) {
            return "package or editor leftover (name ends with \(suffix))"
        }
        return nil
    }
}

/// What `validate` (and `checks`) report about a loaded configuration beyond parsing: hooks that
/// cannot run (errors: exit 8), timeouts the overall deadline always cuts (warnings), and the
/// hooks_dir entries that are not hooks (and why).
struct ConfigReview: Sendable {
    var errors: [String] = []
    var warnings: [String] = []
    var skipped: [HookFile.Skipped] = []

    init(_ config: ProbeConfiguration) {
        let settings = config.settings
        for entry in config.entries {
            if let t = entry.timeout, t > settings.timeout {
                warnings.append("\(entry.origin): check \(entry.name): timeout \(DurationText.format(t)) is longer than [probe] timeout \(DurationText.format(settings.timeout)); the overall deadline ends it first (code 9)")
            }
            let review = entry.check.review(settings)
            errors += review.errors.map { "\(entry.origin): \(entry.kind) \(entry.name) \($0)" }
            warnings += review.warnings.map { "\(entry.origin): \(entry.kind) \(entry.name) \($0)" }
        }
        if !settings.hooksDir.isEmpty, let listing = try? HookFile.list(directory: settings.hooksDir, location: nil) {
            skipped = listing.skipped
        }
    }
}
