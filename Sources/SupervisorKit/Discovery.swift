import ProbeSupport

/// Where supervisord was found: its server URL and credentials, and how it was found.
public struct SupervisorLocation: Sendable, Equatable, CustomStringConvertible {
    public var url: SupervisorServerURL
    public var username: String?
    public var password: String?
    /// Where the URL came from, e.g. `SUPERVISOR_SERVER_URL` or `/etc/supervisord.conf [supervisorctl] serverurl`.
    public var how: String

    public init(url: SupervisorServerURL, username: String? = nil, password: String? = nil, how: String) {
        self.url = url
        self.username = username
        self.password = password
        self.how = how
    }

    public var description: String { "\(url) (from \(how))" }
}

/// Finding supervisord the way supervisorctl does, with two additions that help a probe.
///
/// Order:
///  1. an explicit URL (the probe's own config or command line);
///  2. an explicit supervisord.conf (`configFile`, like `supervisorctl -c`);
///  3. `SUPERVISOR_SERVER_URL` (set by supervisord for its children; credentials from
///     `SUPERVISOR_USERNAME`/`SUPERVISOR_PASSWORD`, as supervisor's childutils reads them);
///  4. the first supervisord.conf that exists on supervisorctl's search path:
///     `<exe>/../etc/supervisord.conf`, `<exe>/../supervisord.conf`, `supervisord.conf`,
///     `etc/supervisord.conf`, `/etc/supervisord.conf`, `/etc/supervisor/supervisord.conf`
///     (`<exe>` is the folder of `executablePath`); in that file:
///       a. `[supervisorctl] serverurl` (with `username`/`password` from the same section), as supervisorctl;
///       b. else `[unix_http_server] file` as `unix://FILE` (with that section's username/password).
///          supervisorctl itself would use http://localhost:9001 here; the socket supervisord really
///          opens is the better guess;
///       c. else `[inet_http_server] port` as `http://HOST:PORT` (an empty host or `*` means localhost);
///       d. else http://localhost:9001;
///  5. no file: http://localhost:9001, supervisorctl's built-in default.
/// Explicit `username`/`password` arguments override whatever the source gives.
/// `%(here)s` (the config file's folder) and `%(ENV_NAME)s` are expanded in the values used.
public enum SupervisorDiscovery {
    /// supervisorctl's built-in default server URL.
    public static let defaultURL = SupervisorServerURL.http(host: "localhost", port: 9001)
    /// Config files larger than this are refused.
    public static let maxConfigBytes = 4 << 20

    /// supervisorctl's config search path; `executablePath` gives the first two entries.
    public static func defaultSearchPaths(executablePath: String?) -> [String] {
        var paths: [String] = []
        if let exe = executablePath {
            let here = parentFolder(parentFolder(exe))
            paths += [here + "/etc/supervisord.conf", here + "/supervisord.conf"]
        }
        return paths + ["supervisord.conf", "etc/supervisord.conf", "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf"]
    }

    /// Finds the server. Throws `.invalidServerURL` for a bad URL and `.configUnreadable` for a
    /// supervisord.conf that exists but cannot be read or parsed.
    public static func locate(explicitURL: String? = nil, username: String? = nil, password: String? = nil,
                              configFile: String? = nil, environment: Environment,
                              executablePath: String? = nil, searchPaths: [String]? = nil) throws(SupervisorError) -> SupervisorLocation {
        func finish(_ loc: SupervisorLocation) -> SupervisorLocation {
            var l = loc
            if let username { l.username = username }
            if let password { l.password = password }
            return l
        }
        if let explicitURL, !explicitURL.isEmpty {
            return finish(SupervisorLocation(url: try SupervisorServerURL(parsing: explicitURL), how: "configured server URL"))
        }
        if let configFile {
            guard Platform.exists(configFile) else { throw .configUnreadable(path: configFile, reason: "no such file") }
            return finish(try fromConfig(configFile, environment: environment))
        }
        if let env = environment["SUPERVISOR_SERVER_URL"], !env.isEmpty {
            return finish(SupervisorLocation(url: try SupervisorServerURL(parsing: env),
                                             username: environment["SUPERVISOR_USERNAME"].flatMap { $0.isEmpty ? nil : $0 },
                                             password: environment["SUPERVISOR_PASSWORD"],
                                             how: "SUPERVISOR_SERVER_URL"))
        }
        for path in searchPaths ?? defaultSearchPaths(executablePath: executablePath) where Platform.exists(path) {
            return finish(try fromConfig(path, environment: environment))
        }
        return finish(SupervisorLocation(url: defaultURL, how: "supervisorctl's default (no supervisord.conf found)"))
    }

    /// Reads the server location from one supervisord.conf (rules 4a-4d above).
    public static func fromConfig(_ path: String, environment: Environment) throws(SupervisorError) -> SupervisorLocation {
        let text: String
        do {
            text = String(decoding: try SafeFile.readTrusted(path, limit: maxConfigBytes), as: UTF8.self)
        } catch {
            throw .configUnreadable(path: path, reason: error.path == path ? error.because : error.description)
        }
        return try fromConfigText(text, path: path, environment: environment)
    }

    /// As `fromConfig`, for text already read (`path` names it and gives `%(here)s`).
    public static func fromConfigText(_ text: String, path: String, environment: Environment) throws(SupervisorError) -> SupervisorLocation {
        let sections: [INISection]
        do {
            sections = try INI.parse(text, file: path, strictDuplicates: false)
        } catch {
            throw .configUnreadable(path: path, reason: error.description)
        }
        let here = parentFolder(path)
        // Repeated sections merge, and the last value of a key wins (configparser with strict=False).
        var merged: [String: [String: String]] = [:]
        for sec in sections {
            for e in sec.entries { merged[sec.name, default: [:]][e.key] = e.value }
        }
        func value(_ sec: [String: String], _ key: String) -> String? {
            sec[key].map { expand($0, here: here, environment: environment) }
        }
        func nonEmpty(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }

        if let ctl = merged["supervisorctl"], let url = nonEmpty(value(ctl, "serverurl")) {
            var parsed = try SupervisorServerURL(parsing: url)
            if case .unix(let p) = parsed, !p.hasPrefix("/") { parsed = .unix(path: here + "/" + p) }
            return SupervisorLocation(url: parsed, username: nonEmpty(value(ctl, "username")), password: value(ctl, "password"),
                                      how: "\(path) [supervisorctl] serverurl")
        }
        if let unix = merged["unix_http_server"], let file = nonEmpty(value(unix, "file")) {
            let full = file.hasPrefix("/") ? file : here + "/" + file
            return SupervisorLocation(url: try SupervisorServerURL(parsing: "unix://" + full),
                                      username: nonEmpty(value(unix, "username")), password: value(unix, "password"),
                                      how: "\(path) [unix_http_server] file")
        }
        if let inet = merged["inet_http_server"], let port = nonEmpty(value(inet, "port")) {
            var hostPort = port
            if hostPort.hasPrefix(":") || hostPort.hasPrefix("*:") {
                hostPort = "localhost" + hostPort[hostPort.firstIndex(of: ":")!...]
            } else if !hostPort.contains(":") {
                hostPort = "localhost:" + hostPort
            }
            return SupervisorLocation(url: try SupervisorServerURL(parsing: "http://" + hostPort),
                                      username: nonEmpty(value(inet, "username")), password: value(inet, "password"),
                                      how: "\(path) [inet_http_server] port")
        }
        return SupervisorLocation(url: defaultURL, how: "\(path) has no server settings; supervisorctl's default")
    }

    /// Expands `%(here)s` and `%(ENV_NAME)s`; other `%(...)s` and `%%` are left as written, except `%%` → `%`.
    static func expand(_ s: String, here: String, environment: Environment) -> String {
        guard s.contains("%") else { return s }
        var out = ""
        var rest = Substring(s)
        while let pct = rest.firstIndex(of: "%") {
            out += rest[..<pct]
            let after = rest[rest.index(after: pct)...]
            if after.hasPrefix("%") {
                out += "%"
                rest = after.dropFirst()
            } else if after.hasPrefix("("), let close = after.firstIndex(of: ")"),
                      after[after.index(after: close)...].hasPrefix("s") {
                let name = String(after[after.index(after: after.startIndex)..<close])
                let replacement: String?
                if name == "here" {
                    replacement = here
                } else if name.hasPrefix("ENV_") {
                    replacement = environment[String(name.dropFirst(4))]
                } else {
                    replacement = nil
                }
                let end = after.index(after: close)
                out += replacement ?? String(rest[pct...end])
                rest = after[after.index(after: end)...]
            } else {
                out += "%"
                rest = after
            }
        }
        return out + rest
    }

    static func parentFolder(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}
