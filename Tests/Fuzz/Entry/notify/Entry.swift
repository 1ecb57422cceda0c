// libFuzzer entry for the notify target; the body is FuzzTargets.notify.
// SwiftPM links executables with `main` aliased to `fuzz_notify_main`, so that is where libFuzzer's driver starts.
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.notify(FuzzInput(data, size))
    return 0
}

@_cdecl("fuzz_notify_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
