import ProbeTestSupport
import SupervisorKit

/// A captured HTTP response split into status, headers and body (fixtures only).
struct CapturedHTTP {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    init(_ bytes: [UInt8]) throws {
        let sep: [UInt8] = [13, 10, 13, 10]
        guard let at = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == sep }) else {
            throw FixtureError.noHeaderEnd
        }
        let head = String(decoding: bytes[..<at], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst()
        status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0  // 0 for a request
        headers = lines.map { l in
            let c = l.firstIndex(of: ":")!
            return (String(l[..<c]), String(l[l.index(after: c)...].drop(while: { $0 == " " })))
        }
        body = Array(bytes[(at + 4)...])
    }

    func header(_ name: String) -> String? {
        headers.first(where: { $0.0.lowercased() == name.lowercased() })?.1
    }
}

enum FixtureError: Error { case noHeaderEnd }

let supervisorVersions = ["4.2.5", "4.3.0"]

func supervisorFixture(_ name: String) throws -> [UInt8] {
    try TestPaths.fixture("supervisor/" + name)
}

func supervisorFixtureText(_ name: String) throws -> String {
    String(decoding: try supervisorFixture(name), as: UTF8.self)
}
