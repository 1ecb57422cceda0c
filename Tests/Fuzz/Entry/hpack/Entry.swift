// libFuzzer entry for the hpack target; the body is FuzzTargets.hpack.
// SwiftPM links executables with `main` aliased to `fuzz_hpack_main`, so that is where libFuzzer's driver starts.
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.hpack(FuzzInput(data, size))
    return 0
}

@_cdecl("fuzz_hpack_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
