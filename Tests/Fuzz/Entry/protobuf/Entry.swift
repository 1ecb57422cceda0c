// libFuzzer entry for the protobuf target; the body is FuzzTargets.protobuf.
// SwiftPM links executables with `main` aliased to `fuzz_protobuf_main`, so that is where libFuzzer's driver starts.
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.protobuf(FuzzInput(data, size))
    return 0
}

@_cdecl("fuzz_protobuf_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
