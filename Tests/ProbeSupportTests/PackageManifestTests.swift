// Package.swift lists, for every target, exactly the package modules its files import: a module used
// through another target's dependency builds today and breaks when that dependency is dropped.
import Testing
import ProbeSupport
import ProbeTestSupport

@Suite struct PackageManifestTests {
    /// Modules of the toolchain, never listed as dependencies.
    static let toolchain: Set<String> = ["Glibc", "Testing", "Synchronization", "Foundation", "Dispatch", "XCTest",
                                         "PackageDescription", "_Concurrency", "Musl"]

    struct Target { var name: String; var dependencies: Set<String> }

    /// The targets of Package.swift: each `...arget(name: "X"` up to the next one, its `dependencies: [...]`.
    static func targets() throws -> [Target] {
        let text = try Platform.readTextFile(TestPaths.packageRoot + "/Package.swift")
        let marker = "arget(name: \""
        var chunks = text.split(separator: marker, omittingEmptySubsequences: false).dropFirst()
        var out: [Target] = []
        while let chunk = chunks.popFirst() {
            guard let quote = chunk.firstIndex(of: "\"") else { continue }
            let name = String(chunk[..<quote])
            var deps: Set<String> = []
            if let start = chunk.firstRange(of: "dependencies: [")?.upperBound, let end = chunk[start...].firstIndex(of: "]") {
                let pieces = chunk[start..<end].split(separator: "\"", omittingEmptySubsequences: false)
                deps = Set(pieces.enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
            }
            out.append(Target(name: name, dependencies: deps))
        }
        return out
    }

    /// The modules a folder's Swift files import: the `import X` lines (`@testable import X`, ...) of each
    /// file's header, which ends at the first line that is not blank, a comment or an import.
    static func imports(in dir: String) -> Set<String> {
        var found: Set<String> = []
        for name in (try? Platform.listDirectory(dir)) ?? [] {
            let path = dir + "/" + name
            if name.hasSuffix(".swift") {
                for line in ((try? Platform.readTextFile(path, limit: 1 << 22)) ?? "").split(separator: "\n") {
                    var words = line.split(separator: " ")
                    if words.isEmpty || words[0].hasPrefix("//") { continue }
                    while let first = words.first, first.hasPrefix("@") { words.removeFirst() }
                    guard words.count >= 2, words[0] == "import" else { break }
                    found.insert(String(words[1]))
                }
            } else if ((try? Platform.fileInfo(path)) ?? nil)?.isDirectory == true {
                found.formUnion(imports(in: path))
            }
        }
        return found
    }

    @Test func everyTargetListsExactlyTheModulesItImports() throws {
        let targets = try Self.targets()
        #expect(targets.count >= 10, "parsed \(targets.map(\.name)) from Package.swift")
        for target in targets {
            let root = TestPaths.packageRoot
            let dir = Platform.exists(root + "/Sources/" + target.name) ? root + "/Sources/" + target.name : root + "/Tests/" + target.name
            var imported = Self.imports(in: dir).subtracting(Self.toolchain)
            imported.remove(target.name)
            let missing = imported.subtracting(target.dependencies).sorted()
            let unused = target.dependencies.subtracting(imported).sorted()
            #expect(missing.isEmpty && unused.isEmpty,
                    "Package.swift, target \(target.name): add \(missing), remove \(unused) (its files import \(imported.sorted()))")
        }
    }
}
