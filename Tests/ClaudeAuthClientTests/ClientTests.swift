import ClaudeAuthAPI
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
        #expect(throws: SocketPath.Unresolved.self) { try SocketPath.resolve(explicit: nil, environment: [:]) }
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
    }

    @Test(
        "leaves everything else to the argument parser",
        arguments: [
            [], ["status"], ["header", "--help"], ["header", "--json"], ["header", "token"], ["token", "--format", "json"],
            ["header", "--profile"], ["header", "--profile", "--no-env"], ["header", "--format", "xml"], ["header", "--profile="],
            ["header", "extra"], ["-h"], ["--version"],
        ])
    func delegated(arguments: [String]) {
        #expect(FastPath.parse(arguments) == nil)
    }
}
