// Decoding supervisord's process-info structs (getProcessInfo, getAllProcessInfo) and getState.

extension SupervisorProcess {
    /// Decodes one `getProcessInfo` struct. `name` and `group` are required, and `state` (int) or
    /// `statename`; the other fields default to empty/0. `exitstatus` is kept as sent (supervisord
    /// reports 0 in BACKOFF and FATAL; it is meaningful in EXITED and STOPPED).
    public init(processInfo v: XMLRPCValue) throws(SupervisorError) {
        guard let s = v.structValue else {
            throw .malformedReply("process info is \(v.typeName), expected a struct")
        }
        func string(_ key: String) throws(SupervisorError) -> String? {
            guard let m = s[key] else { return nil }
            guard let str = m.stringValue else { throw .malformedReply("process info field \(key) is \(m.typeName), expected a string") }
            return str
        }
        func int(_ key: String) throws(SupervisorError) -> Int? {
            guard let m = s[key] else { return nil }
            guard let n = m.intValue else { throw .malformedReply("process info field \(key) is \(m.typeName), expected an int") }
            return n
        }
        guard let name = try string("name") else { throw .malformedReply("process info has no name") }
        let group = try string("group") ?? name
        let state: ProcessState
        if let code = try int("state"), let st = ProcessState(rawValue: code) {
            state = st
        } else if let sn = try string("statename") {
            state = ProcessState(name: sn) ?? .unknown
        } else if s["state"] != nil {
            state = .unknown
        } else {
            throw .malformedReply("process info for \(name) has neither state nor statename")
        }
        self.init(name: name, group: group, state: state,
                  description: try string("description") ?? "",
                  spawnError: try string("spawnerr") ?? "",
                  exitStatus: try int("exitstatus"),
                  exitExpected: nil,
                  pid: try int("pid") ?? 0,
                  startTime: try int("start") ?? 0,
                  now: try int("now") ?? 0)
        logFile = try string("stderr_logfile") ?? ""
        if logFile.isEmpty { logFile = try string("stdout_logfile") ?? "" }
    }

    /// Decodes a `getAllProcessInfo` array.
    public static func list(fromProcessInfo v: XMLRPCValue) throws(SupervisorError) -> [SupervisorProcess] {
        guard let items = v.arrayValue else {
            throw .malformedReply("getAllProcessInfo returned \(v.typeName), expected an array")
        }
        var out: [SupervisorProcess] = []
        out.reserveCapacity(items.count)
        for item in items { out.append(try SupervisorProcess(processInfo: item)) }
        return out
    }
}

/// supervisord's own state (`getState`): RUNNING 1, RESTARTING 0, SHUTDOWN -1, FATAL 2.
public struct SupervisorState: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var name: String
    public init(code: Int, name: String) {
        self.code = code
        self.name = name
    }
    public var isRunning: Bool { code == 1 }
    public var description: String { "\(name) (\(code))" }

    public init(xmlrpc v: XMLRPCValue) throws(SupervisorError) {
        guard let code = v["statecode"]?.intValue, let name = v["statename"]?.stringValue else {
            throw .malformedReply("getState returned \(v.typeName), expected a struct with statecode and statename")
        }
        self.init(code: code, name: name)
    }
}
