// Reporting to Kuberhealthy as an external check: one JSON POST to KH_REPORTING_URL with the
// run's UUID, retried on transient failures until the run's deadline.
import ProbeHTTP
import ProbeSupport

enum Kuberhealthy {
    /// `{"OK":true,"Errors":[]}` or `{"OK":false,"Errors":["check: detail (code N)", ...]}`.
    /// Never OK:false without an error, never a blank error; warn-status checks are not errors.
    static func body(_ report: ProbeReport) -> JSONValue {
        var errors: [String] = []
        if !report.ready {
            for r in report.results where r.status == .fail {
                let detail = r.detail.isEmpty ? (r.summary.isEmpty ? "failed" : r.summary) : r.detail
                errors.append("\(r.name): \(detail) (code \(r.code))")
            }
            if errors.isEmpty {
                errors.append(report.summary.isEmpty ? "not ready (code \(report.code))" : "\(report.summary) (code \(report.code))")
            }
        }
        return .object([("OK", .bool(report.ready)), ("Errors", .array(errors.map { .string($0) }))])
    }

    struct Target: Sendable, Equatable {
        var endpoint: HTTPEndpoint
        /// Path and query, e.g. `/check`.
        var target: String
    }

    struct URLError: Error, CustomStringConvertible, Sendable {
        var description: String
    }

    /// Parses `http://host[:port][/path]`. https is refused with a clear message (this client has no TLS).
    static func parseURL(_ url: String) throws(URLError) -> Target {
        if url.lowercased().hasPrefix("https://") {
            throw URLError(description: "KH_REPORTING_URL \(url) uses https, which this client does not speak; use Kuberhealthy's in-cluster http:// service address")
        }
        guard url.lowercased().hasPrefix("http://") else {
            throw URLError(description: "KH_REPORTING_URL must start with http://, not \"\(url)\"")
        }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<slash]
        var target = String(rest[slash...])
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        if authority.contains("@") { throw URLError(description: "KH_REPORTING_URL must not carry credentials") }
        var host = Substring(authority), portText: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw URLError(description: "KH_REPORTING_URL: missing ] in \(url)") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw URLError(description: "KH_REPORTING_URL: bad host in \(url)")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { throw URLError(description: "KH_REPORTING_URL has no host: \(url)") }
        var port: UInt16 = 80
        if !portText.isEmpty {
            guard portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let p = UInt16(portText), p > 0 else {
                throw URLError(description: "KH_REPORTING_URL: bad port \"\(portText)\" in \(url)")
            }
            port = p
        }
        guard target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw URLError(description: "KH_REPORTING_URL: the path must be printable ASCII without spaces")
        }
        return Target(endpoint: .tcp(host: String(host), port: port), target: target)
    }

    struct Delivery: Sendable {
        var accepted: Bool
        var attempts: Int
        /// The last HTTP status, if any answer came.
        var status: Int?
        /// What happened, in one line.
        var message: String
    }

    typealias Sender = @Sendable (HTTPClientRequest, HTTPEndpoint, Deadline) throws(HTTPClientError) -> HTTPResponse

    /// Sends `body` until accepted (2xx), refused for good (400, 410 and other 4xx but 408/429),
    /// or `deadline`. Transient failures (connect errors, timeouts, 5xx, 408, 429) are retried
    /// with backoff from 250 ms doubling to 4 s.
    static func deliver(_ body: String, to target: Target, uuid: String, deadline: Deadline,
                               log: @Sendable (String) -> Void = { _ in },
                               send: Sender = { (r, e, d) throws(HTTPClientError) in try HTTPClient.send(r, to: e, deadline: d, maxResponseBytes: 64 << 10) })
        -> Delivery {
        let request = HTTPClientRequest(method: "POST", target: target.target,
                                        headers: [("Content-Type", "application/json"), ("kh-run-uuid", uuid),
                                                  ("User-Agent", "readiness-probe/\(ProbeVersion.string)")],
                                        body: Array(body.utf8))
        var attempts = 0
        var backoff: Duration = .milliseconds(250)
        var lastStatus: Int?
        var why = ""
        while true {
            attempts += 1
            let attemptDeadline = deadline.earlier(.after(.seconds(10)))
            do {
                let response = try send(request, target.endpoint, attemptDeadline)
                lastStatus = response.status
                let text = firstLine(response.bodyText)
                let answer = "HTTP \(response.status)" + (text.isEmpty ? "" : ": \(text)")
                if (200...299).contains(response.status) {
                    return Delivery(accepted: true, attempts: attempts, status: response.status, message: "accepted (\(answer))")
                }
                if response.status == 410 {
                    return Delivery(accepted: false, attempts: attempts, status: 410,
                                    message: "refused: \(answer) (the run's deadline has passed; not retried)")
                }
                if (400...499).contains(response.status) && response.status != 408 && response.status != 429 {
                    return Delivery(accepted: false, attempts: attempts, status: response.status,
                                    message: "refused: \(answer) (not retried)")
                }
                why = answer
            } catch {
                why = error.description
            }
            if deadline.remaining <= backoff {
                return Delivery(accepted: false, attempts: attempts, status: lastStatus,
                                message: "not delivered before the deadline after \(attempts) attempt\(attempts == 1 ? "" : "s"); last: \(why)")
            }
            log("attempt \(attempts) failed (\(why)); retrying in \(DurationText.format(backoff))")
            Platform.sleep(milliseconds: Int(backoff.milliseconds))
            backoff = min(backoff * 2, .seconds(4))
        }
    }

    static func firstLine(_ s: String) -> String {
        String(s.prefix { $0 != "\n" && $0 != "\r" }.prefix(200)).trimmingASCIIWhitespace()
    }
}
