// libFuzzer entry for the http-request target; the body is FuzzTargets.httpRequest.
// SwiftPM links executables with `main` aliased to `fuzz_http_request_main`, so that is where libFuzzer's driver starts.
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.httpRequest(FuzzInput(data, size))
    return 0
}

@_cdecl("fuzz_http_request_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
