// The one libFuzzer executable, `fuzz`, for every target in FuzzTargets.all: FUZZ_TARGET=<name> picks
// the body; `fuzz --list` prints the names (fuzz.sh takes its target list from there, so the list is
// written once, in FuzzTargets.all). SwiftPM links executables with `main` aliased to `fuzz_main`,
// so that is where libFuzzer's driver starts.
import FuzzTargets
@preconcurrency import Glibc

nonisolated(unsafe) var selected: (@Sendable (FuzzInput) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected?(FuzzInput(data, size))
    return 0
}

@_cdecl("fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let names = FuzzTargets.all.map(\.name)
    if argc == 2, let arg = argv?[1], String(cString: arg) == "--list" {
        print(names.joined(separator: "\n"))
        return 0
    }
    let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let body = FuzzTargets.all.first(where: { $0.name == name })?.body else {
        let line = "fuzz: FUZZ_TARGET=\"\(name)\" is not a target; one of: \(names.joined(separator: " "))\n"
        _ = line.withCString { fputs($0, stderr) }
        return 2
    }
    selected = body
    return runFuzzer(argc, argv, fuzzOne)
}
