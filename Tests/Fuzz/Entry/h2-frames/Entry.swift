// libFuzzer entry for the h2-frames target; the body is FuzzTargets.h2Frames.
// SwiftPM links executables with `main` aliased to `fuzz_h2_frames_main`, so that is where libFuzzer's driver starts.
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.h2Frames(FuzzInput(data, size))
    return 0
}

@_cdecl("fuzz_h2_frames_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
