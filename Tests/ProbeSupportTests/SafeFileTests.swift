// SafeFile and TrustedPath against real files: FIFOs, devices, symlinks, sizes, owners and modes.
import Testing
import ProbeSupport
import ProbeTestSupport
import Glibc

@Suite struct SafeFileTests {
    @Test func regularFileIsRead() throws {
        let dir = TempDir("sf")
        let p = try dir.write("f", "hello")
        #expect(try SafeFile.read(p, limit: 5) == Array("hello".utf8))
        #expect(throws: FileAccessError(p, .tooLarge(limit: 4))) { try SafeFile.read(p, limit: 4) }
    }

    @Test func nonRegularFilesAreRefusedWithoutBlocking() throws {
        let dir = TempDir("sf")
        #expect(mkfifo(dir.file("fifo"), 0o644) == 0)
        #expect(throws: FileAccessError(dir.file("fifo"), .wrongType(found: "a FIFO", wanted: "a regular file"))) {
            try SafeFile.read(dir.file("fifo"), limit: 100)
        }
        #expect(throws: FileAccessError("/dev/zero", .wrongType(found: "a character device", wanted: "a regular file"))) {
            try SafeFile.read("/dev/zero", limit: 100)
        }
        #expect(throws: FileAccessError(dir.path, .wrongType(found: "a directory", wanted: "a regular file"))) {
            try SafeFile.read(dir.path, limit: 100)
        }
        #expect(throws: FileAccessError(dir.file("none"), .missing)) { try SafeFile.read(dir.file("none"), limit: 100) }
    }

    @Test func symlinkIsNotFollowed() throws {
        let dir = TempDir("sf")
        let p = try dir.write("f", "x")
        #expect(symlink(p, dir.file("l")) == 0)
        let e = #expect(throws: FileAccessError.self) { try SafeFile.read(dir.file("l"), limit: 100) }
        #expect(e?.problem == .symlink)
        #expect(e?.description == "\(dir.file("l")) is a symbolic link; refusing to follow it")
    }

    @Test func trustedPolicy() throws {
        let dir = TempDir("sf")
        let p = try dir.write("f", "x", mode: 0o664)
        let e = #expect(throws: FileAccessError.self) { try SafeFile.read(p, limit: 100, policy: .trusted) }
        #expect(e?.description == "\(p) is writable by its group (mode 664); refusing it (chmod go-w \(p))")
        chmod(p, 0o644)
        #expect(try SafeFile.read(p, limit: 100, policy: .trusted) == [UInt8(ascii: "x")])
    }

    @Test func trustedPathResolvesLinksAndChecksFolders() throws {
        let dir = TempDir("sf")
        try dir.write("a/b/f", "x")
        #expect(symlink("a/b", dir.file("l")) == 0)
        var walker = TrustedPath()
        #expect(try walker.resolve(dir.file("l/f")) == dir.file("a/b/f"))
        #expect(try walker.resolve(dir.file("a/./b/../b/f")) == dir.file("a/b/f"))
        chmod(dir.file("a"), 0o777)
        var fresh = TrustedPath()
        #expect(throws: FileAccessError(dir.file("a"), .writable(mode: UInt32(S_IFDIR) | 0o777))) {
            try fresh.resolve(dir.file("l/f"))
        }
        // The target folder itself may not be sticky-writable; a parent may (if root's).
        chmod(dir.file("a"), 0o1777)
        #expect(try fresh.resolve(dir.file("a/b")) == dir.file("a/b"))
        #expect(throws: FileAccessError.self) { try fresh.resolve(dir.file("a")) }
    }
}
