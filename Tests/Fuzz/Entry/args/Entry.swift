// libFuzzer entry for the args target; the body is FuzzTargets.args.
// SwiftPM links executables with `main` aliased to `fuzz_args_main`, so that is where libFuzzer's driver starts.
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.args(FuzzInput(data, size))
    return 0
}

@_cdecl("fuzz_args_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
