import ProbeTestSupport
import SupervisorKit
import Testing

@Suite struct ServerURLTests {
    @Test func valid() throws {
        #expect(try SupervisorServerURL(parsing: "unix:///var/run/supervisor.sock") == .unix(path: "/var/run/supervisor.sock"))
        #expect(try SupervisorServerURL(parsing: "http://127.0.0.1:9001") == .http(host: "127.0.0.1", port: 9001))
        #expect(try SupervisorServerURL(parsing: "http://localhost") == .http(host: "localhost", port: 80))
        #expect(try SupervisorServerURL(parsing: " http://h:1/RPC2 ") == .http(host: "h", port: 1))
        #expect(try SupervisorServerURL(parsing: "http://[::1]:9001") == .http(host: "::1", port: 9001))
        #expect(SupervisorServerURL.http(host: "::1", port: 9001).description == "http://[::1]:9001")
        #expect(SupervisorServerURL.unix(path: "/x").description == "unix:///x")
    }

    @Test(arguments: [
        ("https://h:1", "https is not supported"),
        ("ftp://h", "expected unix:///path"),
        ("/var/run/supervisor.sock", "expected unix:///path"),
        ("unix://", "no socket path"),
        ("unix:///" + String(repeating: "a", count: 120), "107 bytes"),
        ("http://h:0", "port"),
        ("http://h:65536", "port"),
        ("http://h:x", "port"),
        ("http://:9001", "no host"),
        ("http://u:p@h:1", "credentials"),
        ("http://[::1", "IPv6"),
    ])
    func invalid(text: String, reason: String) {
        do {
            let u = try SupervisorServerURL(parsing: text)
            Issue.record("accepted \(text) as \(u)")
        } catch {
            guard error.code == .invalidServerURL else { Issue.record("\(error)"); return }
            #expect(error.detail.contains(reason), "\(error.detail)")
            #expect(!error.description.contains("\n"))
        }
    }
}

@Suite struct DiscoveryTests {
    @Test func explicitURLComesFirst() throws {
        let loc = try SupervisorDiscovery.locate(explicitURL: "unix:///a.sock", username: "u", password: "p",
                                                 environment: ["SUPERVISOR_SERVER_URL": "unix:///b.sock"], searchPaths: [])
        #expect(loc == SupervisorLocation(url: .unix(path: "/a.sock"), username: "u", password: "p", how: "configured server URL"))
    }

    @Test func environmentThenDefault() throws {
        let env = try SupervisorDiscovery.locate(environment: ["SUPERVISOR_SERVER_URL": "unix:///b.sock",
                                                              "SUPERVISOR_USERNAME": "x", "SUPERVISOR_PASSWORD": "y"],
                                                 searchPaths: ["/nonexistent/supervisord.conf"])
        #expect(env == SupervisorLocation(url: .unix(path: "/b.sock"), username: "x", password: "y", how: "SUPERVISOR_SERVER_URL"))
        let def = try SupervisorDiscovery.locate(environment: [:], searchPaths: ["/nonexistent/supervisord.conf"])
        #expect(def.url == .http(host: "localhost", port: 9001))
        #expect(def.how.contains("default"))
    }

    @Test func firstExistingConfigWins() throws {
        let dir = TempDir("disc")
        let a = try dir.write("etc/supervisord.conf", """
            [unix_http_server]
            file=/run/x.sock
            [supervisorctl]
            serverurl = unix://%(here)s/ctl.sock   ; comment
            username = admin
            password = %(ENV_PW)s
            """)
        let b = try dir.write("b.conf", "[supervisorctl]\nserverurl=http://other:1\n")
        let loc = try SupervisorDiscovery.locate(environment: ["PW": "secret"],
                                                 searchPaths: [dir.file("missing.conf"), a, b])
        #expect(loc.url == .unix(path: dir.path + "/etc/ctl.sock"))
        #expect(loc.username == "admin" && loc.password == "secret")
        #expect(loc.how == "\(a) [supervisorctl] serverurl")
        // The executable's ../etc/supervisord.conf is searched first.
        let viaExe = try SupervisorDiscovery.locate(environment: ["PW": "s"], executablePath: dir.path + "/bin/supervisorctl",
                                                    searchPaths: nil)
        #expect(viaExe.how == "\(a) [supervisorctl] serverurl")
        #expect(SupervisorDiscovery.defaultSearchPaths(executablePath: "/usr/bin/supervisorctl")
                == ["/usr/etc/supervisord.conf", "/usr/supervisord.conf", "supervisord.conf", "etc/supervisord.conf",
                    "/etc/supervisord.conf", "/etc/supervisor/supervisord.conf"])
    }

    @Test func configFallbacks() throws {
        let unix = try SupervisorDiscovery.fromConfigText("[unix_http_server]\nfile=/var/run/supervisor.sock\nusername=u\npassword=p\n[supervisord]\n",
                                                          path: "/etc/supervisord.conf", environment: [:])
        #expect(unix == SupervisorLocation(url: .unix(path: "/var/run/supervisor.sock"), username: "u", password: "p",
                                           how: "/etc/supervisord.conf [unix_http_server] file"))
        let inet = try SupervisorDiscovery.fromConfigText("[inet_http_server]\nport=*:9002\n", path: "/c", environment: [:])
        #expect(inet.url == .http(host: "localhost", port: 9002))
        let inet2 = try SupervisorDiscovery.fromConfigText("[inet_http_server]\nport=127.0.0.1:9003\n", path: "/c", environment: [:])
        #expect(inet2.url == .http(host: "127.0.0.1", port: 9003))
        let none = try SupervisorDiscovery.fromConfigText("[supervisord]\nnodaemon=true\n", path: "/c", environment: [:])
        #expect(none.url == .http(host: "localhost", port: 9001))
        // Lenient: duplicate sections and keys are allowed, the last value wins.
        let dup = try SupervisorDiscovery.fromConfigText("[supervisorctl]\nserverurl=unix:///a\nserverurl=unix:///b\n[supervisorctl]\n",
                                                         path: "/c", environment: [:])
        #expect(dup.url == .unix(path: "/b"))
    }

    @Test func brokenConfigIsReported() {
        #expect(throws: SupervisorError.self) {
            try SupervisorDiscovery.fromConfigText("no section here\n", path: "/c", environment: [:])
        }
        #expect(throws: SupervisorError.configUnreadable(path: "/nonexistent.conf", reason: "no such file")) {
            try SupervisorDiscovery.locate(configFile: "/nonexistent.conf", environment: [:])
        }
        #expect(throws: SupervisorError.self) {
            try SupervisorDiscovery.fromConfigText("[supervisorctl]\nserverurl=ftp://x\n", path: "/c", environment: [:])
        }
    }
}
