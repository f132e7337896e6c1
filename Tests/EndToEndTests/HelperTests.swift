import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Testing

/// The helpers tools run in their own protocols, with the real tools: git's credential helper against a real
/// `git http-backend`, and `--min-validity` and the api-key fallback against glewlwyd.
@Suite("helpers: git, --min-validity, the fallback", .serialized)
struct HelperTests {
    /// A bare repository with one commit, served by a git HTTP front that checks tokens at glewlwyd.
    final class GitFixture {
        let refresh: RefreshFixture
        let server: GitHTTPServer
        let root: String
        var url: String { "http://127.0.0.1:\(server.port)/repo.git" }

        init(lifetime: Int) async throws {
            refresh = try RefreshFixture(lifetime: lifetime, tokenTimeout: 15)
            root = refresh.sandbox.root + "/git"
            let glewlwyd = refresh.server
            let checker = TokenChecker(glewlwyd)
            server = try await GitHTTPServer(root: root + "/served") { checker.accepts($0) }
            try FileManager.default.createDirectory(atPath: root + "/served", withIntermediateDirectories: true)
            try git(["init", "-q", "--bare", root + "/served/repo.git"])
            try git(["init", "-q", root + "/seed"])
            try "one\n".write(toFile: root + "/seed/file", atomically: true, encoding: .utf8)
            try git(["-C", root + "/seed", "add", "file"])
            try git(["-C", root + "/seed", "commit", "-q", "-m", "one"])
            try git(["-C", root + "/seed", "push", "-q", root + "/served/repo.git", "HEAD:refs/heads/main"])
            try git(["config", "--global", "credential.helper", "!\(Binaries.client) git-credential --profile work"])
        }

        /// The environment git runs in: the sandbox's home and socket, no system configuration, never a prompt.
        var environment: [String: String] {
            refresh.sandbox.environment([
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false",
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
            ])
        }

        @discardableResult
        func git(_ arguments: [String], expecting status: Int32 = 0) throws -> CommandResult {
            let result = try runCommand(which("git")!, arguments, environment: environment, timeout: 60)
            #expect(result.status == status, "git \(arguments.joined(separator: " ")): \(result.stderr)")
            return result
        }

        /// A new commit in the served repository, so that a fetch has something to bring.
        func commit(_ text: String) throws {
            try text.write(toFile: root + "/seed/file", atomically: true, encoding: .utf8)
            try git(["-C", root + "/seed", "commit", "-q", "-am", text])
            try git(["-C", root + "/seed", "push", "-q", root + "/served/repo.git", "HEAD:refs/heads/main"])
        }
    }

    /// glewlwyd's verdict on a token: its userinfo endpoint, asked on every request the git front gets.
    struct TokenChecker: Sendable {
        let userinfoURL: String

        init(_ server: GlewlwydServer) {
            userinfoURL = server.userinfoURL
        }

        func accepts(_ token: String) -> Bool {
            let result = try? runCommand(
                which("curl")!, ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)", userinfoURL],
                environment: [:], timeout: 30)
            return result?.stdout == "200"
        }
    }

    @Test("git clones and fetches through the helper across several token lifetimes; a host it does not cover falls through")
    func gitAcrossLifetimes() async throws {
        // 6 s tokens, refreshed every 3.5–4 s: one git command's requests all run on the token it was given.
        let fixture = try await GitFixture(lifetime: 6)
        try fixture.refresh.configure(extra: "git_hosts = [\"127.0.0.1:\(fixture.server.port)\"]")
        let daemon = try DaemonProcess(sandbox: fixture.refresh.sandbox)
        try fixture.refresh.logIn()
        try fixture.git(["clone", "-q", fixture.url, fixture.root + "/clone"])
        // Until git has used four tokens: three refreshes, whatever the machine's speed.
        let start = Date()
        var fetches = 0
        var tokens = Set<String>()
        while tokens.count < 4 && Date().timeIntervalSince(start) < 120 {
            try fixture.commit("change \(fetches)")
            try fixture.git(["-C", fixture.root + "/clone", "fetch", "-q", "origin"])
            fetches += 1
            tokens.formUnion(fixture.server.attempts.map(\.password))
        }
        #expect(fixture.server.attempts.allSatisfy { $0.accepted && $0.username == "oauth2" }, "\(fixture.server.attempts.filter { !$0.accepted }.count) refused")
        #expect(tokens.count >= 4, "\(tokens.count) distinct tokens over \(fetches) fetches")
        let head = try fixture.git(["-C", fixture.root + "/clone", "rev-parse", "origin/main"]).stdout
        let served = try fixture.git(["-C", fixture.root + "/served/repo.git", "rev-parse", "main"]).stdout
        #expect(head == served)

        // localhost is not among git_hosts: the helper stays silent and git asks the next helper.
        try fixture.git(["config", "--global", "--add", "credential.helper", "!f() { echo username=next; echo password=second-helper; }; f"])
        let other = "http://localhost:\(fixture.server.port)/repo.git"
        try fixture.git(["clone", "-q", other, fixture.root + "/other"], expecting: 128)
        #expect(fixture.server.attempts.last == .init(username: "next", password: "second-helper", accepted: false))
        // No token in the daemon's log, none in git's view of the helper's arguments.
        let log = daemon.log()
        #expect(tokens.allSatisfy { !log.contains($0) })
        #expect(daemon.stop() == 0)
        await fixture.server.stop()
    }

    @Test("a token the git server rejects: git's erase causes exactly one refresh grant, and the retried fetch succeeds")
    func gitErase() async throws {
        // Tokens that outlive the test many times over: no scheduled refresh can add a grant.
        let fixture = try await GitFixture(lifetime: 600)
        let daemon = try DaemonProcess(sandbox: fixture.refresh.sandbox)
        try fixture.refresh.logIn()
        try fixture.git(["clone", "-q", fixture.url, fixture.root + "/clone"])
        let held = try fixture.refresh.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let grants = try fixture.refresh.server.grantsIssued()
        fixture.server.rejectOnce(held)
        try fixture.git(["-C", fixture.root + "/clone", "fetch", "-q", "origin"], expecting: 128)
        #expect(try fixture.refresh.server.grantsIssued() == grants + 1)
        let fresh = try fixture.refresh.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(fresh != held)
        try fixture.commit("after the rejection")
        try fixture.git(["-C", fixture.root + "/clone", "fetch", "-q", "origin"])
        #expect(fixture.server.attempts.last == .init(username: "oauth2", password: fresh, accepted: true))
        #expect(try fixture.refresh.server.grantsIssued() == grants + 1)
        // git's own erase of a token already replaced does nothing more.
        let again = try runCommand(
            Binaries.client, ["git-credential", "--profile", "work", "erase"], environment: fixture.environment,
            stdin: "protocol=http\nhost=127.0.0.1:\(fixture.server.port)\nusername=oauth2\npassword=\(held)\n\n")
        #expect(again.status == 0 && again.stdout.isEmpty, "\(again.stderr)")
        #expect(try fixture.refresh.server.grantsIssued() == grants + 1)
        #expect(daemon.stop() == 0)
        await fixture.server.stop()
    }

    @Test("git-credential get: git's answer format; a daemon that is down gives no answer, exit 0 and one line")
    func gitProtocol() throws {
        let sandbox = try Sandbox()
        try sandbox.writeConfig("""
            [profiles.api]
            kind = "api-key"
            key_env = "KEY"
            git_username = "x-token"
            """)
        let request = "protocol=https\nhost=git.example.com\n\n"
        let down = try runCommand(Binaries.client, ["git-credential", "--profile", "api", "get"], environment: sandbox.environment(), stdin: request)
        #expect(down.status == 0)
        #expect(down.stdout.isEmpty)
        #expect(down.stderr.split(separator: "\n").count == 1 && down.stderr.contains("cannot reach claude-authd"), "\(down.stderr)")
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["KEY": "sk-ant-api03-GITKEY"])
        let answer = try runCommand(Binaries.client, ["git-credential", "--profile", "api", "get"], environment: sandbox.environment(), stdin: request)
        #expect(answer.status == 0)
        #expect(answer.stdout == "username=x-token\npassword=sk-ant-api03-GITKEY\n")
        let store = try runCommand(Binaries.client, ["git-credential", "--profile", "api", "store"], environment: sandbox.environment(), stdin: request)
        #expect(store.status == 0 && store.stdout.isEmpty && store.stderr.isEmpty)
        #expect(daemon.stop() == 0)
    }

    @Test("--min-validity: a token with enough left is served as it is; one with too little is refreshed first")
    func minimumValidity() throws {
        let fixture = try RefreshFixture(lifetime: 20, tokenTimeout: 15)
        let daemon = try DaemonProcess(sandbox: fixture.sandbox)
        try fixture.logIn()
        let first = try fixture.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let firstExpiry = try #require(jwtExpiry(first))
        // Right after the login: 8 s are there, the same token.
        let askedEarly = Date()
        let early = try fixture.sandbox.client(["token", "--profile", "work", "--min-validity", "8"])
        #expect(early.status == 0)
        let earlyToken = early.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if firstExpiry.timeIntervalSince(askedEarly) > 10 { #expect(earlyToken == first) }
        // Once fewer than 8 s are left (before the scheduled refresh at 70–80 %), asking for 8 refreshes first.
        _ = waitUntil(30, every: 100_000) { firstExpiry.timeIntervalSinceNow < 7.5 }
        let askedLate = Date()
        let late = try fixture.sandbox.client(["token", "--profile", "work", "--min-validity", "8"])
        #expect(late.status == 0, "\(late.stderr)")
        let lateToken = late.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(lateToken != first)
        #expect(try #require(jwtExpiry(lateToken)).timeIntervalSince(askedLate) >= 8)
        #expect(late.stderr.isEmpty)
        // More than the lifetime: served, with a warning, never an error.
        let long = try fixture.sandbox.client(["header", "--profile", "work", "--min-validity", "3600"])
        #expect(long.status == 0)
        #expect(long.stdout.hasPrefix("Authorization: Bearer "))
        #expect(long.stderr.contains("less than the 3600 s asked for"), "\(long.stderr)")
        #expect(daemon.stop() == 0)
    }

    @Test("oauth first, the api key as fallback: a revoked grant serves the fallback, a new login the oauth token again")
    func fallback() throws {
        let fixture = try RefreshFixture(lifetime: 10, tokenTimeout: 15)
        try fixture.configure(extra: "fallback = \"api\"", more: "[profiles.api]\nkind = \"api-key\"\nkey_env = \"KEY\"\n")
        let daemon = try DaemonProcess(sandbox: fixture.sandbox, environment: ["KEY": "sk-ant-api03-FALLBACK"])
        // Not logged in yet: the fallback.
        #expect(try fixture.token().stdout == "sk-ant-api03-FALLBACK\n")
        #expect(try fixture.status().message?.hasPrefix("serving fallback api: login required") == true)
        try fixture.logIn()
        let oauth = try fixture.token().stdout
        #expect(oauth.hasPrefix("ey"), "\(oauth)")
        #expect(try fixture.status().state == .ready)
        // The grant is revoked at the server: once the scheduled refresh is refused (6–7 s in), the key is served.
        try fixture.server.revokeRefreshTokens()
        let switched = try fixture.poll(for: 30) { $0.stdout == "sk-ant-api03-FALLBACK\n" }
        #expect(switched.stdout == "sk-ant-api03-FALLBACK\n")
        #expect(try fixture.status().state == .loginRequired)
        let header = try fixture.sandbox.client(["header", "--profile", "work"])
        #expect(header.stdout.contains("x-api-key: sk-ant-api03-FALLBACK"), "\(header.stdout)")
        #expect(try fixture.status().message?.hasPrefix("serving fallback api: login required") == true)
        _ = try fixture.token()
        // Back: a new login, and the oauth token is served again.
        try fixture.logIn()
        #expect(try fixture.token().stdout.hasPrefix("ey"))
        #expect(try fixture.status().message == nil)
        // The token endpoint down past the token's expiry: the key; the endpoint back: the oauth token again.
        try fixture.server.stop()
        let down = try fixture.poll(for: 30) { $0.stdout == "sk-ant-api03-FALLBACK\n" }
        #expect(down.stdout == "sk-ant-api03-FALLBACK\n")
        #expect(try fixture.status().message?.hasPrefix("serving fallback api: token endpoint unavailable") == true)
        try fixture.server.restart()
        let back = try fixture.poll(for: 90) { $0.stdout.hasPrefix("ey") }
        #expect(back.stdout.hasPrefix("ey"), "\(back.stderr)")
        let log = daemon.log()
        let changes = log.components(separatedBy: "\n").filter { $0.contains("event=fallback") }
        // Once per change: before the first login, after it, after the refusal, after the second login, down, back.
        #expect(changes.count == 6, "\(changes)")
        #expect(!log.contains("sk-ant-api03-FALLBACK"))
        #expect(daemon.stop() == 0)
    }
}

/// kubectl's exec credential plugin, with the real kubectl against a TLS API front of the test's own that checks
/// every bearer token at glewlwyd.
@Suite("helpers: kubectl", .serialized)
struct KubectlTests {
    /// The exec API version this kubectl speaks: v1 from Kubernetes 1.22, v1beta1 before.
    static func execAPIVersion(_ kubectl: String) throws -> String {
        let version = try runCommand(kubectl, ["version", "--client", "-o", "json"], environment: ["PATH": "/usr/bin:/bin", "HOME": "/tmp"]).stdout
        struct Version: Decodable {
            struct Client: Decodable { var minor: String }
            var clientVersion: Client
        }
        let minor = (try? JSONDecoder().decode(Version.self, from: Data(version.utf8))).flatMap { Int($0.clientVersion.minor.prefix { $0.isNumber }) } ?? 0
        return minor >= 22 ? "client.authentication.k8s.io/v1" : "client.authentication.k8s.io/v1beta1"
    }

    @Test("kubectl runs the helper once per process, sends its token, and gets a fresh one after the last expired")
    func kubectl() async throws {
        let kubectl = try #require(which("kubectl"), "kubectl is not installed (.ci/run installs one)")
        let fixture = try RefreshFixture(lifetime: 4, tokenTimeout: 15)
        let sandbox = fixture.sandbox
        let (certificate, key) = try sandbox.selfSignedCertificate()
        let checker = HelperTests.TokenChecker(fixture.server)
        let api = try await FaultyTokenEndpoint(tls: (certificate, key)) { request in
            guard let authorization = request.headers.first(name: "authorization"), authorization.hasPrefix("Bearer "),
                checker.accepts(String(authorization.dropFirst(7)))
            else { return .json(401, #"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}"#) }
            switch request.uri.split(separator: "?").first {
            case "/api": return .json(200, #"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#)
            case "/apis": return .json(200, #"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#)
            default: return .json(404, #"{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}"#)
            }
        }
        // The helper, wrapped to count its calls.
        let calls = sandbox.root + "/helper-calls"
        let wrapper = try sandbox.writeFile("helper", "#!/bin/sh\necho call >> \(calls)\nexec \(Binaries.client) \"$@\"\n", mode: 0o700)
        let server = "https://127.0.0.1:\(api.port)"
        let kubeconfig = try sandbox.writeFile(
            "kubeconfig",
            """
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: \(server)
                certificate-authority: \(certificate)
            users:
            - name: test
              user:
                exec:
                  apiVersion: \(try Self.execAPIVersion(kubectl))
                  command: \(wrapper)
                  args: ["kube-credential", "--profile", "work"]
                  interactiveMode: Never
            contexts:
            - name: test
              context:
                cluster: test
                user: test
            current-context: test

            """)
        let daemon = try DaemonProcess(sandbox: sandbox)
        try fixture.logIn()
        let environment = sandbox.environment(["KUBECONFIG": kubeconfig])
        func helperCalls() -> Int {
            ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        // Two requests (/api and /apis), one helper call: kubectl caches the token until its expiry.
        let versions = try runCommand(kubectl, ["api-versions"], environment: environment, timeout: 60)
        #expect(versions.status == 0, "\(versions.stderr)")
        #expect(versions.stdout.contains("v1"))
        #expect(helperCalls() == 1)
        let asked = api.requests.filter { $0.headers.first(name: "authorization") != nil }
        #expect(asked.count >= 2)
        let first = asked.compactMap { $0.headers.first(name: "authorization") }
        #expect(Set(first).count == 1)
        // After that token's expiry, the next kubectl gets another from the helper, and the server takes it.
        let expiry = try #require(jwtExpiry(String(first[0].dropFirst(7))))
        _ = waitUntil(30, every: 100_000) { Date() > expiry }
        let raw = try runCommand(kubectl, ["get", "--raw", "/api"], environment: environment, timeout: 60)
        #expect(raw.status == 0, "\(raw.stderr)")
        #expect(raw.stdout.contains("APIVersions"))
        #expect(helperCalls() == 2)
        let latest = api.requests.last?.headers.first(name: "authorization")
        #expect(latest != nil && latest != first[0])
        #expect(daemon.stop() == 0)
        await api.stop()
    }
}
