// A fast, libFuzzer-free pass over the fuzz corpora on every `swift test`: each seed in Tests/Fuzz/corpus/<target>
// and a fixed set of seeded mutations of it go through the same bodies the fuzzers run (FuzzTargets.swift is a
// symlink into Tests/Fuzz). A crash or a broken property aborts the test process with "fuzz property violated".
import Testing
import ProbeSupport
import ProbeTestSupport

@Suite struct CorpusSmokeTests {
    /// Mutations per seed; with about 140 seeds this is a few thousand inputs per run.
    static let mutationsPerSeed = 24

    @Test(arguments: FuzzTargets.all.map(\.name))
    func seedsAndMutations(_ name: String) throws {
        let body = try #require(FuzzTargets.all.first { $0.name == name }?.body)
        let dir = TestPaths.packageRoot + "/Tests/Fuzz/corpus/" + name
        let files = try #require(try Platform.listDirectory(dir)).sorted()
        #expect(files.count >= 3, "the \(name) corpus has \(files.count) seeds")
        var rng = SplitMix(seed: 0x5EED_F022 ^ UInt64(name.utf8.count))
        for file in files {
            let seed = try Platform.readFile(dir + "/" + file, limit: 1 << 22)
            body(FuzzInput(seed))
            for _ in 0..<Self.mutationsPerSeed { body(FuzzInput(Mutator.mutate(seed, &rng))) }
        }
    }

    /// FuzzTargets.all is the one list of fuzz targets (fuzz.sh asks the `fuzz` binary for it):
    /// every target has a corpus folder (seedsAndMutations) and every corpus folder is a target.
    @Test func everyCorpusFolderIsATarget() throws {
        let folders = try #require(try Platform.listDirectory(TestPaths.packageRoot + "/Tests/Fuzz/corpus"))
        #expect(folders.sorted() == FuzzTargets.all.map(\.name).sorted())
    }

    @Test func mutatorIsDeterministicAndChangesInput() {
        var a = SplitMix(seed: 7), b = SplitMix(seed: 7)
        let seed = Array("ver:3.0 server:supervisor serial:0 len:0\n".utf8)
        let x = (0..<50).map { _ in Mutator.mutate(seed, &a) }
        let y = (0..<50).map { _ in Mutator.mutate(seed, &b) }
        #expect(x == y)
        #expect(x.contains { $0 != seed })
    }
}

/// libFuzzer-like byte mutations: flip, set to an interesting byte, insert, delete, duplicate a run, truncate.
enum Mutator {
    static let interesting: [UInt8] = [0, 0x0A, 0x0D, 0x20, 0x22, 0x25, 0x2B, 0x2D, 0x2E, 0x3A, 0x3C, 0x3D, 0x3E,
                                       0x5B, 0x5D, 0x7B, 0x7D, 0x7F, 0x80, 0xC3, 0xE2, 0xF0, 0xFF]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
        var b = input
        for _ in 0...rng.below(4) {
            let at = rng.below(b.count + 1)
            switch rng.below(6) {
            case 0 where !b.isEmpty && at < b.count: b[at] ^= UInt8(1 << rng.below(8))
            case 1 where at < b.count: b[at] = interesting[rng.below(interesting.count)]
            case 2: b.insert(interesting[rng.below(interesting.count)], at: at)
            case 3 where at < b.count: b.removeSubrange(at..<min(b.count, at + 1 + rng.below(16)))
            case 4 where at < b.count:
                let run = b[at..<min(b.count, at + 1 + rng.below(32))]
                b.insert(contentsOf: Array(run), at: rng.below(b.count + 1))
            case 5: b.removeSubrange(at...)
            default: b.append(interesting[rng.below(interesting.count)])
            }
        }
        return b
    }
}
