import ClaudeAuthAPI
import Foundation
import Testing

@testable import ClaudeAuthClient

@Suite("the client's logic")
struct ClientTests {
    @Test("the seed's order: ANTHROPIC_API_KEY before ANTHROPIC_AUTH_TOKEN; empty values do not count")
    func environmentOrder() {
        #expect(EnvironmentCredential(environment: ["ANTHROPIC_API_KEY": "k", "ANTHROPIC_AUTH_TOKEN": "t"]) == .apiKey("k"))
        #expect(EnvironmentCredential(environment: ["ANTHROPIC_API_KEY": "", "ANTHROPIC_AUTH_TOKEN": "t"]) == .authToken("t"))
        #expect(EnvironmentCredential(environment: [:]) == nil)
        #expect(
            EnvironmentCredential.apiKey("k").headers == [
                HeaderField(name: "x-api-key", value: "k"), HeaderField(name: "anthropic-version", value: "2023-06-01"),
            ])
        #expect(EnvironmentCredential.authToken("t").headers == [HeaderField(name: "Authorization", value: "Bearer t")])
    }

    @Test("header formats render and parse")
    func formats() {
        let fields = [HeaderField(name: "x-api-key", value: "k\"\\"), HeaderField(name: "anthropic-version", value: "2023-06-01")]
        #expect(HeaderFormat.http.render(fields) == "x-api-key: k\"\\\nanthropic-version: 2023-06-01\n")
        #expect(HeaderFormat.curl.render(fields) == "header = \"x-api-key: k\\\"\\\\\"\nheader = \"anthropic-version: 2023-06-01\"\n")
        #expect(HeaderFormat.json.render(fields) == "{\"anthropic-version\":\"2023-06-01\",\"x-api-key\":\"k\\\"\\\\\"}\n")
        #expect(HeaderFormat.parse(Array("a: b\nAuthorization: Bearer x:y\n".utf8)) == [
            HeaderField(name: "a", value: "b"), HeaderField(name: "Authorization", value: "Bearer x:y"),
        ])
    }

    @Test("every error code maps to its sysexits status")
    func exitCodes() {
        let expected: [ErrorCode: Int32] = [
            .missingAPIKey: 77, .loginRequired: 77, .forbidden: 77, .tokenEndpointUnavailable: 75, .busy: 75,
            .unknownProfile: 78, .invalidConfig: 78, .invalidRequest: 64, .notFound: 64, .payloadTooLarge: 64,
            .internalError: 70,
        ]
        for code in ErrorCode.allCases {
            #expect(ClientError.exitCode(for: code) == expected[code], "\(code)")
        }
    }

    @Test("the socket path: --socket, then CLAUDE_AUTH_SOCKET, then XDG_RUNTIME_DIR, else a clear error")
    func socketPath() throws {
        #expect(try SocketPath.resolve(explicit: "/x", environment: ["CLAUDE_AUTH_SOCKET": "/y", "XDG_RUNTIME_DIR": "/r"]) == "/x")
        #expect(try SocketPath.resolve(explicit: nil, environment: ["CLAUDE_AUTH_SOCKET": "/y", "XDG_RUNTIME_DIR": "/r"]) == "/y")
        #expect(try SocketPath.resolve(explicit: nil, environment: ["XDG_RUNTIME_DIR": "/r"]) == "/r/claude-auth/socket")
        // Without XDG_RUNTIME_DIR: the user's /run/user/UID, else the private fallback in /tmp.
        let root = "/tmp/socket-path-" + String(getpid())
        defer { rmdir(root + "/run/4242"); rmdir(root + "/tmp/claude-auth-4242"); rmdir(root + "/run"); rmdir(root + "/tmp"); rmdir(root) }
        mkdir(root, 0o700)
        mkdir(root + "/run", 0o755)
        mkdir(root + "/tmp", 0o777)
        func locate() throws -> SocketPath.Located {
            try SocketPath.locate(explicit: nil, environment: [:], uid: 4242, runUser: root + "/run", temporary: root + "/tmp")
        }
        #expect(try locate().path == root + "/tmp/claude-auth-4242/socket")
        #expect(try locate().reason.contains("XDG_RUNTIME_DIR is unset"))
        // A fallback directory of another user's, or open to others: refused.
        mkdir(root + "/tmp/claude-auth-4242", 0o700)
        #expect(throws: SocketPath.Unresolved.self) { try locate() }
        chown(root + "/tmp/claude-auth-4242", 4242, 4242)
        #expect(try locate().path == root + "/tmp/claude-auth-4242/socket")
        chmod(root + "/tmp/claude-auth-4242", 0o755)
        #expect(throws: SocketPath.Unresolved.self) { try locate() }
        // /run/user/UID of this user's wins.
        mkdir(root + "/run/4242", 0o700)
        chown(root + "/run/4242", 4242, 4242)
        let located = try locate()
        #expect(located.path == root + "/run/4242/claude-auth/socket" && located.isDefault)
        #expect(located.reason == "XDG_RUNTIME_DIR is unset; \(root)/run/4242 is this user's")
    }

    @Test("an unreachable socket is exit 69 with what to do")
    func unreachable() {
        #expect {
            _ = try DaemonClient(socketPath: "/nonexistent/socket").health()
        } throws: { error in
            guard let error = error as? ClientError else { return false }
            return error.exitCode == 69 && error.message.contains("systemctl --user start claude-authd.socket")
        }
    }
}

@Suite("FastPath")
struct FastPathTests {
    @Test("recognises plain header and token calls, options before or after the command")
    func recognised() {
        #expect(FastPath.parse(["header"])! == (.header, CredentialRequest()))
        #expect(FastPath.parse(["token", "--profile", "api"])! == (.token, CredentialRequest(profile: "api")))
        #expect(
            FastPath.parse(["--socket=/s", "header", "--profile=work", "--no-env", "--format", "curl"])!
                == (.header, CredentialRequest(profile: "work", socket: "/s", ignoresEnvironment: true, format: .curl)))
        #expect(FastPath.parse(["token", "--min-validity", "300"])! == (.token, CredentialRequest(minimumValidity: 300)))
        #expect(FastPath.parse(["header", "--min-validity=0"])! == (.header, CredentialRequest(minimumValidity: 0)))
    }

    @Test(
        "leaves everything else to the argument parser",
        arguments: [
            [], ["status"], ["header", "--help"], ["header", "--json"], ["header", "token"], ["token", "--format", "json"],
            ["header", "--profile"], ["header", "--profile", "--no-env"], ["header", "--format", "xml"], ["header", "--profile="],
            ["header", "extra"], ["-h"], ["--version"], ["token", "--min-validity", "soon"], ["token", "--min-validity=-1"],
            ["token", "--min-validity", "86401"],
        ])
    func delegated(arguments: [String]) {
        #expect(FastPath.parse(arguments) == nil)
    }
}

@Suite("helpers' protocols")
struct HelperProtocolTests {
    let credential = CredentialResponse(
        profile: "work", servedProfile: "work", kind: .oauth, token: "at-1", headers: [HeaderField(name: "Authorization", value: "Bearer at-1")],
        expiresAt: Date(timeIntervalSince1970: 1_800_000_000.9), fingerprint: "f", gitUsername: "oauth2")

    @Test("git's attributes: key=value lines up to a blank line; the answer gives user, password and expiry")
    func git() {
        let input = Array("protocol=https\r\nhost=git.example.com:8443\nwwwauth[]=Basic realm=\"x\"\npath\n\nhost=ignored\n".utf8)
        #expect(GitCredential.attributes(input) == ["protocol": "https", "host": "git.example.com:8443", "wwwauth[]": "Basic realm=\"x\""])
        #expect(GitCredential.attributes([]) == [:])
        #expect(GitCredential.answer(credential) == "username=oauth2\npassword=at-1\npassword_expiry_utc=1800000000\n")
        var key = credential
        key.expiresAt = nil
        #expect(GitCredential.answer(key) == "username=oauth2\npassword=at-1\n")
    }

    @Test("store does nothing; an unreachable daemon is no answer and one line; erase without a password asks nothing")
    func gitRun() {
        let unreachable = DaemonClient(socketPath: "/nonexistent/socket")
        let get = GitCredential.run(.get, input: Array("host=h\n".utf8), client: { unreachable }, profile: "work")
        #expect(get.output.isEmpty)
        #expect(get.diagnostic?.contains("cannot reach claude-authd") == true)
        #expect(get.diagnostic?.filter { $0 == "\n" }.count == 1)
        #expect(GitCredential.run(.store, input: Array("password=x\n".utf8), client: { unreachable }, profile: nil) == ("", nil))
        #expect(GitCredential.run(.erase, input: Array("host=h\n".utf8), client: { unreachable }, profile: nil) == ("", nil))
    }

    @Test("the ExecCredential: apiVersion from KUBERNETES_EXEC_INFO, else v1; the expiry in RFC 3339")
    func kube() throws {
        #expect(KubeCredential.apiVersion(environment: [:]) == "client.authentication.k8s.io/v1")
        let info = #"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#
        #expect(KubeCredential.apiVersion(environment: ["KUBERNETES_EXEC_INFO": info]) == "client.authentication.k8s.io/v1beta1")
        #expect(KubeCredential.apiVersion(environment: ["KUBERNETES_EXEC_INFO": "{"]) == "client.authentication.k8s.io/v1")
        #expect(KubeCredential.apiVersion(environment: ["KUBERNETES_EXEC_INFO": #"{"apiVersion":"evil/v1"}"#]) == "client.authentication.k8s.io/v1")
        let json = String(decoding: try KubeCredential.execCredential(credential, apiVersion: "client.authentication.k8s.io/v1"), as: UTF8.self)
        #expect(json == #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"expirationTimestamp":"2027-01-15T08:00:00Z","token":"at-1"}}"# + "\n")
    }

    @Test("a credential expiring sooner than asked is served with a warning")
    func shortLifetime() {
        let now = Date(timeIntervalSince1970: 1_800_000_000 - 10)
        #expect(CredentialCommands.shortLifetimeWarning(credential, asked: 8, now: now) == nil)
        #expect(CredentialCommands.shortLifetimeWarning(credential, asked: 60, now: now)?.contains("valid for 11 s more, less than the 60 s asked for") == true)
        var key = credential
        key.expiresAt = nil
        #expect(CredentialCommands.shortLifetimeWarning(key, asked: 60, now: now) == nil)
    }
}

@Suite("claude-auth exec's environment")
struct ProxyEnvironmentTests {
    @Test("the base URL and the placeholder are set, the user's credentials removed")
    func child() {
        let child = ProxyEnvironment.child(
            of: ["PATH": "/bin", "ANTHROPIC_API_KEY": "sk-real", "ANTHROPIC_AUTH_TOKEN": "tok", "HOME": "/h"], listen: "127.0.0.1:8787", profile: "work")
        #expect(child == ["PATH": "/bin", "HOME": "/h", "ANTHROPIC_BASE_URL": "http://127.0.0.1:8787", "ANTHROPIC_API_KEY": "claude-auth:work"])
    }
}
