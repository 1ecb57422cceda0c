// The per-result memo of serve's aggregate answers, without a server or a process.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport
import ProbeHTTP

/// The per-result memo of aggregate answers: a new result or a stale one is never served from it.
@Suite struct ResponseMemoTests {
    func get(_ e: HealthEndpoints, _ path: String, _ query: [(name: String, value: String)] = []) -> HTTPServerResponse {
        e.respond(HTTPRequest(method: "GET", target: path, path: path, queryItems: query))
    }

    func report(_ code: Int32) -> ProbeReport {
        ProbeReport.aggregate([CheckResult(name: "app", kind: "hook", status: code == 0 ? .pass : .fail, code: code,
                                           detail: "exited \(code)", durationMs: 1)], durationMs: 1)
    }

    @Test func newResultsReplaceMemoizedAnswers() {
        let cache = HealthCache(log: { _ in })
        let e = HealthEndpoints(cache: cache, checks: [.init(name: "app", kind: "hook", liveness: false)], maxAge: .seconds(60))
        cache.store(report(0))
        let first = get(e, "/readyz")
        #expect(first.status == 200 && first.body == Array("ok".utf8))
        #expect(e.memo.lookup(ResponseMemo.slot(scope: .readyz, json: false, verbose: false), generation: 1) != nil)
        #expect(get(e, "/readyz").body == first.body)
        cache.store(report(42))
        let down = get(e, "/readyz")
        #expect(down.status == 503)
        #expect(down.headers.contains { $0 == ("X-Readiness-Code", "42") })
        #expect(get(e, "/readyz", [("verbose", "")]).body == Array("[-]app failed: exited 42 (code 42)\nreadyz check failed\n".utf8))
        // Excludes are answered on their own, never from the memo.
        #expect(get(e, "/readyz", [("exclude", "app")]).status == 200)
        #expect(get(e, "/readyz").status == 503)
    }

    @Test func aStaleResultIsNeverServedFromTheMemo() {
        let cache = HealthCache(log: { _ in })
        let e = HealthEndpoints(cache: cache, checks: [.init(name: "app", kind: "hook", liveness: false)], maxAge: .milliseconds(100))
        cache.store(report(0))
        #expect(get(e, "/readyz").status == 200)
        #expect(Wait.until(timeout: .seconds(5)) { get(e, "/readyz").status == 503 })
        let stale = get(e, "/readyz")
        #expect(stale.headers.contains { $0 == ("X-Readiness-Code", "11") })
        #expect(String(decoding: stale.body, as: UTF8.self).contains("stale result"))
    }
}
