// Files the probe reads, as an attacker or a careless user leaves them (issue #11 items 7, 9, 10):
// FIFOs, symbolic links, files and folders of another user (`nobody`, via chown; tests run as
// root), group/other-writable configs. Real binary, real files; a hang fails through `timeout`.
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport
import Glibc

/// nobody's uid and gid (65534 when the user database has no entry).
let nobody: (uid: uid_t, gid: gid_t) = {
    if let pw = getpwnam("nobody") { return (pw.pointee.pw_uid, pw.pointee.pw_gid) }
    return (65534, 65534)
}()

let runningAsRoot = Platform.effectiveUserID == 0

/// Runs the binary under `timeout -s KILL 30`: a probe that hangs exits 137 instead of hanging the suite.
func probe(_ args: [String], environment: [String: String] = [:]) -> CommandResult {
    Command.run(["timeout", "-s", "KILL", "30", TestPaths.binary] + args, environment: environment)
}

/// A config with only `[state:UNIT]` checks (no hooks, no start program, no supervisord) over
/// `DIR/run`, written as `DIR/rp.conf`; returns its path.
func stateOnlyConfig(_ dir: TempDir, units: [String]) throws -> String {
    try dir.write("rp.conf", """
        [probe]
        rundir = \(dir.file("run"))
        hooks_dir =
        sonic_hook =
        [start]
        program =

        """ + units.map { "[state:\($0)]\n" }.joined())
}

@Suite struct StateFileTrustTests {
    /// item 7: a FIFO in place of a state file is refused at once: `state show`, `run` and `wait` end.
    @Test(arguments: ["pid", "error"])
    func fifoStateFileDoesNotHang(_ file: String) throws {
        let dir = TempDir("fifo")
        try dir.write("run/app/pid", String(Platform.processID))
        try dir.write("run/app/error", "0")
        unlink(dir.file("run/app/\(file)"))
        #expect(mkfifo(dir.file("run/app/\(file)"), 0o644) == 0)
        let show = probe(["state", "show", "--unit", "app", "--rundir", dir.file("run")])
        #expect(show.status == 5, "\(show)")
        #expect(show.stdout.contains("\(dir.file("run/app/\(file)")): it is a FIFO, not a regular file"), "\(show.stdout)")
        let conf = try stateOnlyConfig(dir, units: ["app"])
        let run = probe(["run", "--config", conf])
        #expect(run.status == 5, "\(run)")
        #expect(run.stdout.contains("FIFO"), "\(run.stdout)")
        let wait = probe(["wait", "--config", conf, "--timeout", "1s"])
        #expect(wait.status == 5 || wait.status == 9, "\(wait)")
    }

    /// item 10: `<unit>/pid` symlinked to a root-only file: its content never shows.
    @Test func symlinkedStateFileIsNotFollowed() throws {
        let dir = TempDir("link")
        let secret = try dir.write("secret", "TOPSECRET-do-not-print", mode: 0o600)
        try dir.write("run/app/error", "0")
        #expect(symlink(secret, dir.file("run/app/pid")) == 0)
        let show = probe(["state", "show", "--unit", "app", "--rundir", dir.file("run"), "--format", "json"])
        #expect(show.status == 5)
        #expect(!show.stdout.contains("TOPSECRET"), "\(show.stdout)")
        #expect(show.stdout.contains("symbolic link"), "\(show.stdout)")
        let conf = try stateOnlyConfig(dir, units: ["app"])
        for format in ["summary", "table", "json", "verbose"] {
            let run = probe(["run", "--config", conf, "--format", format])
            #expect(run.status == 5)
            #expect(!run.stdout.contains("TOPSECRET") && !run.stderr.contains("TOPSECRET"), "\(run)")
        }
    }

    /// item 10: a hard link to a file the unit does not own is refused the same way.
    @Test func hardLinkedStateFileIsRefused() throws {
        let dir = TempDir("hard")
        let secret = try dir.write("secret", "TOPSECRET", mode: 0o600)
        try Platform.makeDirectories(dir.file("run/app"))
        #expect(link(secret, dir.file("run/app/pid")) == 0)
        let show = probe(["state", "show", "--unit", "app", "--rundir", dir.file("run")])
        #expect(show.status == 5)
        #expect(!show.stdout.contains("TOPSECRET"), "\(show.stdout)")
        #expect(show.stdout.contains("2 hard links"), "\(show.stdout)")
    }

    /// item 10: `<rundir>/<unit>` symlinked elsewhere: `state set`, `load` and `reset` never write there.
    @Test func symlinkedUnitFolderIsNotWrittenThrough() throws {
        let dir = TempDir("ulink")
        try Platform.makeDirectories(dir.file("elsewhere"))
        try dir.write("elsewhere/error", "keep")
        try Platform.makeDirectories(dir.file("run"))
        #expect(symlink(dir.file("elsewhere"), dir.file("run/app")) == 0)
        let set = probe(["state", "set", "0", "--unit", "app", "--rundir", dir.file("run")])
        #expect(set.status == Codes.systemError, "\(set)")
        #expect(set.stderr.contains("\(dir.file("run/app")) is a symbolic link"), "\(set.stderr)")
        #expect(probe(["state", "load", "--pid", "1", "--unit", "app", "--rundir", dir.file("run")]).status == Codes.systemError)
        #expect(probe(["state", "reset", "--unit", "app", "--rundir", dir.file("run")]).status == Codes.systemError)
        #expect(try Platform.readTextFile(dir.file("elsewhere/error")) == "keep")
        #expect(!Platform.exists(dir.file("elsewhere/pid")))
        let show = probe(["state", "show", "--unit", "app", "--rundir", dir.file("run")])
        #expect(show.status == 5)
        #expect(show.stdout.contains("is a symbolic link"), "\(show.stdout)")
    }

    /// A symlinked rundir is configuration (/var/run -> /run) and is followed.
    @Test func symlinkedRundirIsFollowed() throws {
        let dir = TempDir("rlink")
        try Platform.makeDirectories(dir.file("real"))
        #expect(symlink(dir.file("real"), dir.file("run")) == 0)
        #expect(probe(["state", "set", "0", "--unit", "app", "--rundir", dir.file("run")]).status == 0)
        #expect(probe(["state", "load", "--pid", String(Platform.processID), "--unit", "app", "--rundir", dir.file("run")]).status == 0)
        #expect(try Platform.readTextFile(dir.file("real/app/error")) == "0")
        #expect(probe(["state", "show", "--unit", "app", "--rundir", dir.file("run")]).status == 0)
    }
}

@Suite struct ConfigTrustTests {
    func config(_ dir: TempDir, _ extra: String = "") throws -> String {
        try dir.write("rp.conf", """
            [probe]
            hooks_dir =
            sonic_hook =
            rundir = \(dir.path)/run
            [start]
            program =
            [hook:t]
            command = /bin/true
            \(extra)
            """)
    }

    /// item 9: a world- or group-writable config is code 8, naming the path and the fix.
    @Test(arguments: [0o666 as mode_t, 0o664, 0o646])
    func writableConfigIsRefused(_ mode: mode_t) throws {
        let dir = TempDir("cfg")
        let conf = try config(dir)
        chmod(conf, mode)
        for command in [["validate"], ["run"], ["checks"]] {
            let r = probe(command + ["--config", conf])
            #expect(r.status == 8, "\(command) \(r)")
            #expect(r.stderr.contains(conf) && r.stderr.contains("chmod go-w \(conf)"), "\(r.stderr)")
        }
    }

    @Test(.enabled(if: runningAsRoot, "needs root to chown to nobody"))
    func configOfAnotherUserIsRefused() throws {
        let dir = TempDir("cfg")
        let conf = try config(dir)
        #expect(chown(conf, nobody.uid, nobody.gid) == 0)
        let r = probe(["validate", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("owned by uid \(nobody.uid)") && r.stderr.contains(conf), "\(r.stderr)")
    }

    /// A folder above the config that `nobody` owns, or that others can write, could swap the file.
    @Test(.enabled(if: runningAsRoot, "needs root to chown to nobody"))
    func configFolderOfAnotherUserIsRefused() throws {
        let dir = TempDir("cfg")
        try Platform.makeDirectories(dir.file("etc"))
        let conf = try dir.write("etc/rp.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:t]\ncommand = /bin/true\n")
        #expect(chown(dir.file("etc"), nobody.uid, nobody.gid) == 0)
        var r = probe(["validate", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("\(dir.file("etc")) is owned by uid \(nobody.uid)"), "\(r.stderr)")
        #expect(chown(dir.file("etc"), 0, 0) == 0)
        chmod(dir.file("etc"), 0o777)
        r = probe(["validate", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("chmod go-w \(dir.file("etc"))"), "\(r.stderr)")
        // A root-owned sticky folder (like /tmp, where TempDir lives) is a fine parent.
        chmod(dir.file("etc"), 0o1777)
        r = probe(["validate", "--config", conf])
        #expect(r.status == 0, "\(r)")
    }

    /// Includes: the same rules for every included file, and for symlinks on the way.
    @Test(.enabled(if: runningAsRoot, "needs root to chown to nobody"))
    func includesAreCheckedToo() throws {
        let dir = TempDir("cfg")
        let conf = try config(dir, "[include]\nfiles = conf.d/*.conf\n")
        let inc = try dir.write("conf.d/a.conf", "[hook:x]\ncommand = /bin/true\n")
        #expect(chown(inc, nobody.uid, nobody.gid) == 0)
        var r = probe(["validate", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains(inc) && r.stderr.contains("owned by uid"), "\(r.stderr)")
        #expect(chown(inc, 0, 0) == 0)
        r = probe(["validate", "--config", conf])
        #expect(r.status == 0, "\(r)")
        // A symlinked include pointing into a folder nobody owns.
        try Platform.makeDirectories(dir.file("evil"))
        try dir.write("evil/b.conf", "[hook:y]\ncommand = /bin/true\n")
        #expect(chown(dir.file("evil"), nobody.uid, nobody.gid) == 0)
        #expect(symlink(dir.file("evil/b.conf"), dir.file("conf.d/b.conf")) == 0)
        r = probe(["validate", "--config", conf])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("\(dir.file("evil")) is owned by uid"), "\(r.stderr)")
    }

    /// A config that is a symlink into trusted folders (a Kubernetes ConfigMap mount) is fine.
    @Test func symlinkedConfigInTrustedFoldersIsRead() throws {
        let dir = TempDir("cfg")
        try Platform.makeDirectories(dir.file("..2026_01"))
        try dir.write("..2026_01/rp.conf", "[probe]\nrundir = \(dir.path)/run\nhooks_dir =\nsonic_hook =\n[start]\nprogram =\n[hook:x]\ncommand = /bin/true\n")
        #expect(symlink("..2026_01", dir.file("..data")) == 0)
        #expect(symlink("..data/rp.conf", dir.file("rp.conf")) == 0)
        let r = probe(["run", "--config", dir.file("rp.conf")])
        #expect(r.status == 0, "\(r)")
    }

    /// item 7: a FIFO as the config or an include is code 8 at once.
    @Test func fifoConfigDoesNotHang() throws {
        let dir = TempDir("cfg")
        #expect(mkfifo(dir.file("rp.conf"), 0o644) == 0)
        let r = probe(["validate", "--config", dir.file("rp.conf")])
        #expect(r.status == 8, "\(r)")
        #expect(r.stderr.contains("is a FIFO, not a regular file"), "\(r.stderr)")
        let conf = try dir.write("main.conf", "[include]\nfiles = inc.conf\n")
        #expect(mkfifo(dir.file("inc.conf"), 0o644) == 0)
        let r2 = probe(["run", "--config", conf])
        #expect(r2.status == 8, "\(r2)")
        #expect(r2.stderr.contains("\(dir.file("inc.conf")) is a FIFO"), "\(r2.stderr)")
    }
}

@Suite struct ServeStateFileTests {
    /// items 7 and 10 through serve: a FIFO as the pid file never wedges serve's runner, a pid file
    /// symlinked to a root-only file never shows its content over HTTP, and serve recovers once the
    /// real files are back.
    @Test func fifoAndSymlinkUnderRundirOverHTTP() async throws {
        let dir = TempDir("srvst")
        try Platform.makeDirectories(dir.file("run/app"))
        try dir.write("run/app/error", "0")
        #expect(mkfifo(dir.file("run/app/pid"), 0o644) == 0)
        let secret = try dir.write("secret", "TOPSECRET-over-http", mode: 0o600)
        let conf = try stateOnlyConfig(dir, units: ["app"])
        let serve = try await ServeProcess.start(config: conf, extra: ["--period", "100ms"])
        let fifo = await serve.waitFor("/readyz?verbose", status: 503, code: 5)
        #expect(fifo.map { String(decoding: $0.body, as: UTF8.self) }?.contains("FIFO") == true)
        unlink(dir.file("run/app/pid"))
        #expect(symlink(secret, dir.file("run/app/pid")) == 0)
        let link = await serve.waitFor("/readyz?verbose", status: 503, code: 5)
        let body = link.map { String(decoding: $0.body, as: UTF8.self) } ?? ""
        #expect(!body.contains("TOPSECRET"), "\(body)")
        let linkSeen = await Wait.untilAsync {
            ((try? serve.get("/readyz?verbose")).map { String(decoding: $0.body, as: UTF8.self) } ?? "").contains("symbolic link")
        }
        #expect(linkSeen)
        unlink(dir.file("run/app/pid"))
        try dir.write("run/app/pid", String(Platform.processID))
        #expect(await serve.waitFor("/readyz", status: 200) != nil)
    }
}
