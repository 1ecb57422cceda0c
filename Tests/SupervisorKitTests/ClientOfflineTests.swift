// SupervisorClient without a server: how replies map to errors, and the request's shape.
import ProbeHTTP
import ProbeSupport
import SupervisorKit
import Testing

@Suite struct ClientOfflineTests {
    let url = SupervisorServerURL.unix(path: "/x.sock")

    @Test func interpretStatuses() throws {
        #expect(throws: SupervisorError.httpStatus(code: 400, reason: "Bad Request")) {
            try SupervisorClient.interpret(HTTPResponse(status: 400, reason: "Bad Request"), url: url, username: nil)
        }
        #expect(throws: SupervisorError.authenticationRequired(endpoint: "unix:///x.sock")) {
            try SupervisorClient.interpret(HTTPResponse(status: 401, reason: "Unauthorized"), url: url, username: nil)
        }
        let html = try CapturedHTTP(supervisorFixture("4.3.0-xmlrpc-401.http"))
        do {
            _ = try SupervisorClient.interpret(HTTPResponse(status: 200, reason: "OK", headers: [("Content-Type", "text/html")],
                                                            body: html.body), url: url, username: nil)
            Issue.record("HTML accepted")
        } catch {
            guard error.code == .malformedReply else { Issue.record("\(error)"); return }
            #expect(error.detail.contains("text/html"))
        }
        let shut = try CapturedHTTP(supervisorFixture("4.3.0-xmlrpc-shutdown.http"))
        #expect(throws: SupervisorError.shuttingDown) {
            try SupervisorClient.interpret(HTTPResponse(status: 200, reason: "OK", body: shut.body), url: url, username: nil)
        }
    }

    @Test func requestShape() throws {
        let c = SupervisorClient(url: url, username: "user", password: "123")
        let req = c.request(method: "supervisor.getAllProcessInfo", params: [])
        #expect(req.method == "POST" && req.target == "/RPC2")
        #expect(req.headers.contains { $0.0 == "Authorization" && $0.1 == "Basic dXNlcjoxMjM=" })
        #expect(req.headers.contains { $0.0 == "Content-Type" && $0.1 == "text/xml" })
        // Byte-identical to the request supervisorctl's serializer made (fixture), headers aside.
        let captured = try CapturedHTTP(supervisorFixture("4.3.0-xmlrpc-request-getAllProcessInfo.http"))
        #expect(req.body == captured.body)
        let noAuth = SupervisorClient(url: url).request(method: "m", params: [])
        #expect(!noAuth.headers.contains { $0.0 == "Authorization" })
    }

    /// SupervisorError is a struct with a code (a new code is not a breaking change): the code
    /// and the details compare as values.
    @Test func errorsAreValuesWithACode() {
        let e = SupervisorError.fault(code: 10, string: "BAD_NAME: x")
        #expect(e.code == .fault && e.number == 10 && e.detail == "BAD_NAME: x" && e.code.description == "fault")
        #expect(e != .fault(code: 10, string: "BAD_NAME: y"))
        #expect(e != .fault(code: 11, string: "BAD_NAME: x"))
        #expect(SupervisorError.fromFault(code: 6, string: "SHUTDOWN_STATE") == .shuttingDown)
        #expect(SupervisorError.noSocket(path: "/s").subject == "/s")
        #expect(SupervisorError.noSocket(path: "/s").code != SupervisorError.connectionRefused(endpoint: "/s").code)
    }

    @Test func everyErrorIsOneLine() {
        let all: [SupervisorError] = [
            .noSocket(path: "/s"), .connectionRefused(endpoint: "unix:///s"), .connectionRefused(endpoint: "http://h:1"),
            .permissionDenied(endpoint: "unix:///s"), .connectFailed(endpoint: "http://h:1", reason: "x"),
            .authenticationRequired(endpoint: "unix:///s"), .authenticationFailed(endpoint: "unix:///s", username: "u"),
            .shuttingDown, .fault(code: 10, string: "BAD_NAME: x\nmore"), .httpStatus(code: 500, reason: "Oops"),
            .malformedReply("a\nb"), .timedOut(phase: "connect"), .supervisorctlFailed(output: "x\ny"),
            .invalidServerURL(url: "x", reason: "y"), .configUnreadable(path: "/c", reason: "r"),
        ]
        for e in all {
            #expect(!e.description.contains("\n"), "\(e)")
            #expect(!e.description.isEmpty)
        }
        #expect(Set(all.map(\.description)).count == all.count)
    }
}
