import AsyncHTTPClient
import ClaudeAuthAPI
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The local proxy with real parts: the real daemon on its socket and TCP listener, the official Python SDK from
/// PyPI, glewlwyd's tokens, and an HTTPS upstream of the test's own under a private certificate that checks every
/// credential it receives.
@Suite("the proxy and the SDK profile files", .serialized)
struct ProxyTests {
    static let key = "sk-ant-api03-proxy-test-key-0123456789"

    /// A daemon whose profiles forward to a ``MessagesUpstream``; `work` (oauth, at glewlwyd) when `lifetime` is given.
    final class Fixture {
        let sandbox: Sandbox
        let refresh: RefreshFixture?
        let upstream: MessagesUpstream
        let certificate: String
        /// How the upstream judges glewlwyd's tokens, when the fixture has glewlwyd.
        let verifier: AccessTokenVerifier?
        private(set) var daemon: DaemonProcess?

        init(lifetime: Int? = nil, eventGap: TimeAmount = .milliseconds(20)) async throws {
            let refresh = try lifetime.map { try RefreshFixture(lifetime: $0, tokenTimeout: 15) }
            self.refresh = refresh
            sandbox = try refresh?.sandbox ?? Sandbox()
            let tls = try sandbox.selfSignedCertificate()
            certificate = tls.certificate
            let verifier = try refresh.map { try AccessTokenVerifier($0.server) }
            self.verifier = verifier
            upstream = try await MessagesUpstream(certificate: tls.certificate, key: tls.key, eventGap: eventGap) { credential, arrival in
                credential == ProxyTests.key || verifier?.accepts(credential, at: arrival) == true
            }
        }

        /// The `api` profile's table, forwarding to the upstream.
        var apiProfile: String {
            "[profiles.api]\nkind = \"api-key\"\nkey_env = \"TEST_API_KEY\"\nupstream = \"\(upstream.url)\"\nca_file = \"\(certificate)\"\n"
        }

        /// Writes the configuration: `[proxy]` on an ephemeral port with `proxy` lines, the `api` profile, and `work`
        /// with `work` lines when the fixture has glewlwyd.
        func configure(proxy: String = "", work: String = "") throws {
            let head = "[proxy]\nlisten = \"127.0.0.1:0\"\n\(proxy)\n"
            if let refresh {
                try refresh.configure(extra: "upstream = \"\(upstream.url)\"\nca_file = \"\(certificate)\"\n" + work, more: head + apiProfile)
            } else {
                try sandbox.writeConfig(head + apiProfile)
            }
        }

        func start() throws {
            daemon = try DaemonProcess(sandbox: sandbox, environment: ["TEST_API_KEY": ProxyTests.key, "ANTHROPIC_CONFIG_DIR": sdkConfigDirectory])
        }

        var sdkConfigDirectory: String { sandbox.root + "/anthropic" }

        func status() throws -> StatusResponse {
            try JSONDecoder.api().decode(StatusResponse.self, from: Data(try sandbox.curl(["http://localhost/v1/status"]).stdout.utf8))
        }

        /// The TCP listener's address, as the daemon reports it.
        func listen() throws -> String {
            try #require(try status().proxy?.listen)
        }

        /// Runs Tests/Servers/sdk/calls.py with the SDK for `seconds`, with `environment` and nothing else of the user's.
        func sdk(seconds: Int, environment extra: [String: String]) throws -> StartedCommand {
            let python = try #require(ProxyTests.sdkPython)
            var environment = ["PATH": "/usr/bin:/bin", "HOME": sandbox.root]
            environment.merge(extra) { $1 }
            return try StartedCommand(python, [Binaries.repositoryRoot + "/Tests/Servers/sdk/calls.py", "\(seconds)"], environment: environment)
        }

        /// The SDK's environment for the TCP listener and the placeholder naming `profile`.
        func proxied(_ profile: String) throws -> [String: String] {
            ["ANTHROPIC_BASE_URL": "http://\(try listen())", "ANTHROPIC_API_KEY": "claude-auth:\(profile)"]
        }
    }

    /// What calls.py printed.
    struct SDKReport: Decodable {
        var creates: Int
        var streams: Int
        var failures: [String]
        var texts: [String]
    }

    static func report(_ result: CommandResult) throws -> SDKReport {
        #expect(result.status == 0, "calls.py: \(result.stderr)")
        return try JSONDecoder().decode(SDKReport.self, from: Data(result.stdout.utf8))
    }

    /// The Python with the official SDK that `make test` installs (Tests/Servers/sdk/setup).
    static let sdkPython: String? = {
        let path = ProcessInfo.processInfo.environment["CLAUDE_AUTH_SDK_PYTHON"] ?? Binaries.repositoryRoot + "/.build/sdk-venv/bin/python3"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    @Test(
        "the SDK through the TCP listener with an api-key profile: one x-api-key, the SDK's anthropic-version, JSON and events",
        .enabled(if: sdkPython != nil, "no SDK virtual environment: run Tests/Servers/sdk/setup"))
    func sdkWithAPIKey() async throws {
        let fixture = try await Fixture()
        try fixture.configure()
        try fixture.start()
        let report = try Self.report(try fixture.sdk(seconds: 0, environment: try fixture.proxied("api")).finish(timeout: 60))
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.texts == ["hello from upstream", MessagesUpstream.streamText])
        let received = fixture.upstream.received
        #expect(received.count == 2)
        for request in received {
            #expect(request.header("x-api-key") == [Self.key])
            #expect(request.header("authorization").isEmpty)
            // The SDK's own version passes through: the profile's default fills in only what the client did not send.
            #expect(request.header("anthropic-version") == ["2026-10-21"])
            #expect(request.accepted)
        }
        let counters = try #require(try fixture.status().profiles.first { $0.name == "api" }?.proxy)
        #expect(counters == ProxyCounters(requests: 2, replays: 0, upstreamErrors: 0))
        let table = try fixture.sandbox.client(["status"]).stdout
        #expect(table.contains("api: proxied 2 requests, 0 replayed after a 401, 0 upstream errors\n"))
        #expect(table.contains("proxy: http://\(try fixture.listen()), and /proxy/ on the socket; default profile default\n"))
        let log = try #require(fixture.daemon).log()
        #expect(!log.contains(Self.key))
        #expect(log.contains("event=proxy") && log.contains("path=/v1/messages") && log.contains("status=200"))
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test(
        "40 s of SDK calls and streams on 10 s rotating tokens, through the proxy and through the SDK's own profile files at once: no failure, every token accepted",
        .enabled(if: sdkPython != nil, "no SDK virtual environment: run Tests/Servers/sdk/setup"))
    func sdkOnRotatingTokens() async throws {
        // 10 s tokens, refreshed 7-8 s in: glewlwyd's `exp` counts from a whole second, up to 1 s before the daemon
        // received the token, so a token read from the SDK's file just before a refresh has at least a second left to
        // reach the upstream. With 3 s tokens that margin could be nothing on a loaded machine.
        let fixture = try await Fixture(lifetime: 10)
        try fixture.configure(work: "sdk_profile = \"work\"\n")
        try fixture.start()
        try #require(fixture.refresh).logIn()
        let proxied = try fixture.sdk(seconds: 40, environment: try fixture.proxied("work"))
        // The profile files alone: ANTHROPIC_PROFILE and the directory; the upstream's CA is the machine's trust.
        let direct = try fixture.sdk(
            seconds: 40, environment: ["ANTHROPIC_PROFILE": "work", "ANTHROPIC_CONFIG_DIR": fixture.sdkConfigDirectory, "SSL_CERT_FILE": fixture.certificate])
        let viaProxy = try Self.report(try proxied.finish(timeout: 120))
        let viaFiles = try Self.report(try direct.finish(timeout: 120))
        #expect(viaProxy.failures.isEmpty, "\(viaProxy.failures)")
        #expect(viaFiles.failures.isEmpty, "\(viaFiles.failures)")
        #expect(viaProxy.texts == ["hello from upstream", MessagesUpstream.streamText])
        let received = fixture.upstream.received
        let refused = received.filter { !$0.accepted }.count
        #expect(refused == 0, "\(refused) of \(received.count) refused")
        let tokens = Set(received.compactMap(\.credential))
        // 40 s of 10 s tokens: several generations were used, by both paths.
        #expect(tokens.count >= 4, "\(tokens.count) distinct tokens over \(received.count) requests")
        #expect(received.allSatisfy { $0.header("authorization").count == 1 && $0.header("x-api-key").isEmpty })

        // The files: 0600 in 0700, the token and its expiry only, no client id and no refresh token.
        let credentials = fixture.sdkConfigDirectory + "/credentials/work.json"
        let config = fixture.sdkConfigDirectory + "/configs/work.json"
        #expect(try fixture.sandbox.mode(of: credentials) == 0o600)
        #expect(try fixture.sandbox.mode(of: fixture.sdkConfigDirectory + "/credentials") == 0o700)
        let written = { () throws -> [String: Any] in
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: credentials))) as? [String: Any] ?? [:]
        }
        #expect(Set(try written().keys) == ["version", "type", "access_token", "expires_at", "managed_by"])
        // The file holds the token served. Tokens still rotate every few seconds, and the file is written just after
        // the daemon holds a new one: a rotation can fall between the two reads, so they are read until they agree.
        let refresh = try #require(fixture.refresh)
        #expect(try waitUntil(30) { try written()["access_token"] as? String == refresh.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines) })
        // The upstream's judgement: a token served after a moment was good at that moment (it was valid when served),
        // not a minute later, once it has expired, and not with its signature changed.
        let asked = Date()
        let served = try refresh.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let verifier = try #require(fixture.verifier)
        #expect(verifier.accepts(served, at: asked))
        #expect(!verifier.accepts(served, at: asked + 60))
        #expect(!verifier.accepts(String(served.dropLast(4)) + "AAAA", at: asked))
        let configured = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as! [String: Any]
        #expect((configured["authentication"] as? [String: Any])?.keys.sorted() == ["type"])
        #expect(configured["base_url"] as? String == fixture.upstream.url)

        // Logout removes both files.
        _ = try fixture.sandbox.client(["logout", "--profile", "work"])
        #expect(!FileManager.default.fileExists(atPath: credentials) && !FileManager.default.fileExists(atPath: config))
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test("SDK files follow the configuration; one the daemon did not write is never replaced: a clear error in status, the file as it was")
    func foreignSDKFile() async throws {
        let fixture = try await Fixture(lifetime: 600)
        try fixture.configure(work: "sdk_profile = \"mine\"\n")
        try FileManager.default.createDirectory(
            atPath: fixture.sdkConfigDirectory + "/credentials", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let mine = fixture.sdkConfigDirectory + "/credentials/mine.json"
        let original = #"{"version": "1.0", "type": "oauth_token", "access_token": "users-own", "expires_at": 1}"#
        try original.write(toFile: mine, atomically: true, encoding: .utf8)
        try fixture.start()
        try #require(fixture.refresh).logIn()
        let sdk = try #require(try fixture.status().profiles.first { $0.name == "work" }?.sdkProfile)
        #expect(sdk.name == "mine")
        #expect(sdk.error?.contains("was not written by claude-authd") == true)
        #expect(try String(contentsOfFile: mine, encoding: .utf8) == original)
        #expect(fixture.daemon?.log().contains("event=sdk_profile_failed") == true)

        // Another name: its files are written at once from the token held; the profile's name gone, they go too.
        try fixture.configure(work: "sdk_profile = \"ours\"\n")
        _ = try fixture.sandbox.curl(["-X", "POST", "http://localhost/v1/reload"])
        let ours = fixture.sdkConfigDirectory + "/credentials/ours.json"
        #expect(waitUntil(10) { FileManager.default.fileExists(atPath: ours) })
        let renamed = try fixture.status().profiles.first { $0.name == "work" }?.sdkProfile
        #expect(renamed?.name == "ours" && renamed?.error == nil, "\(String(describing: renamed))")
        try fixture.configure()
        _ = try fixture.sandbox.curl(["-X", "POST", "http://localhost/v1/reload"])
        // The credentials file goes first, then the config file: wait for both.
        let oursConfig = fixture.sdkConfigDirectory + "/configs/ours.json"
        #expect(waitUntil(10) { !FileManager.default.fileExists(atPath: ours) && !FileManager.default.fileExists(atPath: oursConfig) })
        #expect(try String(contentsOfFile: mine, encoding: .utf8) == original)
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test(
        "an upstream 401 for an unexpired token: one refresh and a replay the SDK never sees; 100 requests meeting one refusal cause one grant",
        .enabled(if: sdkPython != nil, "no SDK virtual environment: run Tests/Servers/sdk/setup"))
    func replayAfterRefusal() async throws {
        // Tokens that outlive the test: no scheduled refresh adds a grant.
        let fixture = try await Fixture(lifetime: 600)
        try fixture.configure()
        try fixture.start()
        let refresh = try #require(fixture.refresh)
        try refresh.logIn()
        let first = try refresh.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        var grants = try refresh.server.grantsIssued()
        fixture.upstream.revoke(first)
        let report = try Self.report(try fixture.sdk(seconds: 0, environment: try fixture.proxied("work")).finish(timeout: 60))
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(try refresh.server.grantsIssued() == grants + 1)
        let received = fixture.upstream.received
        #expect(received.first?.credential == first && received.first?.accepted == false)
        #expect(received.dropFirst().allSatisfy { $0.accepted && $0.credential != first })

        // A hundred concurrent requests, all refused for one token (the upstream holds its refusals until the hundredth
        // has arrived): one refresh, every one answered 200 on replay.
        let second = try refresh.token().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        grants = try refresh.server.grantsIssued()
        fixture.upstream.revoke(second, holdingRefusalsUntil: 100)
        let url = "http://\(try fixture.listen())/v1/messages"
        // A hundred connections at once: the shared client would queue all but eight.
        let client = HTTPClient(configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 128)))
        defer { _ = client.shutdown() }
        let statuses = try await withThrowingTaskGroup(of: UInt.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "x-api-key", value: "claude-auth:work")
                    request.body = .bytes(ByteBuffer(string: #"{"model":"claude-test","max_tokens":1,"messages":[]}"#))
                    let response = try await client.execute(request, timeout: .seconds(60))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    return response.status.code
                }
            }
            return try await group.reduce(into: [UInt]()) { $0.append($1) }
        }
        #expect(statuses.count == 100 && statuses.allSatisfy { $0 == 200 }, "\(statuses.filter { $0 != 200 })")
        #expect(try refresh.server.grantsIssued() == grants + 1)
        let counters = try #require(try fixture.status().profiles.first { $0.name == "work" }?.proxy)
        #expect(counters.replays == 101)
        #expect(fixture.daemon?.log().contains("replayed=true") == true)
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test("server-sent events reach the client one by one: the first arrives before the upstream has sent the last")
    func eventsStream() async throws {
        let fixture = try await Fixture(eventGap: .milliseconds(200))
        try fixture.configure()
        try fixture.start()
        for url in ["http://\(try fixture.listen())/v1/messages"] {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "x-api-key", value: "claude-auth:api")
            request.body = .bytes(ByteBuffer(string: #"{"stream":true}"#))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            #expect(response.status == .ok)
            var received = ""
            var sentWhenFirstArrived: Int?
            for try await chunk in response.body {
                received += String(buffer: chunk)
                if sentWhenFirstArrived == nil, received.contains("\n\n") { sentWhenFirstArrived = fixture.upstream.eventsSent }
            }
            // Ordered by the upstream's own count of events sent, not by a clock.
            #expect(try #require(sentWhenFirstArrived) < MessagesUpstream.streamEvents.count)
            #expect(received.components(separatedBy: "event: ").count - 1 == MessagesUpstream.streamEvents.count)
        }
        // The same through the socket's /proxy/ prefix.
        let viaSocket = try fixture.sandbox.curl(["-N", "-H", "x-api-key: claude-auth:api", "-d", #"{"stream":true}"#, "http://localhost/proxy/v1/messages"])
        #expect(viaSocket.stdout.hasPrefix("event: message_start\n"))
        #expect(viaSocket.stdout.hasSuffix("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test("another uid over TCP and over the socket, a request with Origin, one for a foreign Host: each refused and logged")
    func refusals() async throws {
        let fixture = try await Fixture()
        try fixture.configure()
        try fixture.start()
        let listen = try fixture.listen()
        let curl = try #require(which("curl"))
        let setpriv = try #require(which("setpriv"))
        // As nobody: the connection is closed before any answer.
        let tcp = try runCommand(
            setpriv, ["--reuid=nobody", "--regid=nogroup", "--clear-groups", curl, "-sS", "-H", "x-api-key: claude-auth:api", "-d", "{}", "http://\(listen)/v1/messages"],
            environment: ["PATH": "/usr/bin:/bin"])
        #expect(tcp.status != 0 && tcp.stdout.isEmpty)
        chmod(fixture.sandbox.root, 0o755)
        chmod(fixture.sandbox.root + "/run", 0o755)
        chmod(fixture.sandbox.root + "/run/claude-auth", 0o755)
        chmod(fixture.sandbox.socketPath, 0o777)
        let unix = try runCommand(
            setpriv, ["--reuid=nobody", "--regid=nogroup", "--clear-groups", curl, "-sS", "--unix-socket", fixture.sandbox.socketPath, "-d", "{}", "http://localhost/proxy/v1/messages"],
            environment: ["PATH": "/usr/bin:/bin"])
        #expect(unix.status != 0 && unix.stdout.isEmpty)
        for extra in [["-H", "Origin: https://evil.example"], ["-H", "Sec-Fetch-Mode: cors"], ["-H", "Host: rebound.example:80"]] {
            let refused = try runCommand(curl, ["-sS", "-w", "\n%{http_code}", "-H", "x-api-key: claude-auth:api", "-d", "{}"] + extra + ["http://\(listen)/v1/messages"], environment: [:])
            #expect(refused.stdout.hasSuffix("\n403"), "\(extra): \(refused.stdout)")
            #expect(refused.stdout.contains(#""type":"permission_error""#))
        }
        #expect(fixture.upstream.received.isEmpty)
        let log = try #require(fixture.daemon).log()
        #expect(log.contains("event=proxy_refused reason=a connection from another user"))
        #expect(log.contains("event=peer_refused"))
        #expect(log.contains("reason=a request with Origin"))
        #expect(log.contains("reason=a request with Sec-Fetch-Mode"))
        #expect(log.contains("reason=a request for host rebound.example:80"))
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test("a 20 MiB body arrives intact, a 40 MiB one streams through; no secret in the log")
    func largeBodies() async throws {
        let fixture = try await Fixture()
        try fixture.configure()
        try fixture.start()
        let listen = try fixture.listen()
        for size in [20 << 20, 40 << 20] {
            var bytes = [UInt8](repeating: 0, count: size)
            for index in stride(from: 0, to: size, by: 4096) { bytes[index] = UInt8(truncatingIfNeeded: index >> 12) }
            let path = fixture.sandbox.root + "/body-\(size)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let sent = try runCommand(
                which("curl")!, ["-sS", "-w", "%{http_code}", "-o", "/dev/null", "-H", "x-api-key: claude-auth:api", "--data-binary", "@" + path, "http://\(listen)/v1/files"],
                environment: [:], timeout: 120)
            #expect(sent.stdout == "200", "\(size): \(sent.stdout) \(sent.stderr)")
            let received = try #require(fixture.upstream.received.last)
            #expect(received.body.count == size)
            #expect(received.body == bytes)
        }
        #expect(fixture.daemon?.log().contains(Self.key) == false)
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test("an upstream down, silent, untrusted or redirecting: 502, 504, 502 and the redirect itself, in the API's error shape")
    func upstreamFailures() async throws {
        let fixture = try await Fixture()
        let port = try freePort()
        func configuration(timeout: Int) -> String {
            "[proxy]\nlisten = \"127.0.0.1:0\"\nupstream_timeout = \(timeout)\n" + fixture.apiProfile
                + "[profiles.down]\nkind = \"api-key\"\nkey_env = \"TEST_API_KEY\"\nupstream = \"https://127.0.0.1:\(port)\"\n"
                + "[profiles.untrusted]\nkind = \"api-key\"\nkey_env = \"TEST_API_KEY\"\nupstream = \"\(fixture.upstream.url)\"\n"
        }
        try fixture.sandbox.writeConfig(configuration(timeout: 3600))
        try fixture.start()
        let listen = try fixture.listen()
        func call(_ profile: String) throws -> (status: String, body: String) {
            let result = try runCommand(
                which("curl")!, ["-sS", "-w", "\n%{http_code}", "-H", "x-api-key: claude-auth:\(profile)", "-d", "{}", "http://\(listen)/v1/messages"],
                environment: [:], timeout: 60)
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
        }
        // Refused at once, not retried until upstream_timeout (an hour here): a retrying proxy would not answer
        // within call's bound.
        let down = try call("down")
        #expect(down.status == "502" && down.body.contains(#""type":"api_error""#) && down.body.contains("cannot reach the upstream https://127.0.0.1:\(port)"))
        try fixture.sandbox.writeConfig(configuration(timeout: 2))
        _ = try fixture.sandbox.curl(["-X", "POST", "http://localhost/v1/reload"])
        let untrusted = try call("untrusted")
        #expect(untrusted.status == "502" && untrusted.body.contains("not trusted"), "\(untrusted)")
        fixture.upstream.setMode(.silent)
        let silent = try call("api")
        #expect(silent.status == "504" && silent.body.contains("did not answer within 2 s"), "\(silent)")
        fixture.upstream.setMode(.redirect("https://elsewhere.example/v1/messages"))
        let before = fixture.upstream.received.count
        let redirected = try runCommand(
            which("curl")!, ["-sS", "-D", "-", "-o", "/dev/null", "-H", "x-api-key: claude-auth:api", "-d", "{}", "http://\(listen)/v1/messages"], environment: [:])
        #expect(redirected.stdout.hasPrefix("HTTP/1.1 307"))
        #expect(redirected.stdout.lowercased().contains("location: https://elsewhere.example/v1/messages"))
        #expect(fixture.upstream.received.count == before + 1)
        let missing = try runCommand(which("curl")!, ["-sS", "-w", "\n%{http_code}", "-H", "x-api-key: claude-auth:nobody", "-d", "{}", "http://\(listen)/v1/messages"], environment: [:])
        #expect(missing.stdout.hasSuffix("\n401") && missing.stdout.contains(#""type":"authentication_error""#))
        let status = try fixture.status()
        #expect(status.profiles.first { $0.name == "down" }?.proxy?.upstreamErrors == 1)
        #expect(status.profiles.first { $0.name == "api" }?.proxy?.upstreamErrors == 1)
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test(
        "claude-auth exec runs the SDK with no secret in its environment; the command's exit status is its own",
        .enabled(if: sdkPython != nil, "no SDK virtual environment: run Tests/Servers/sdk/setup"))
    func exec() async throws {
        let fixture = try await Fixture()
        try fixture.configure(proxy: "profile = \"api\"")
        try fixture.start()
        let python = try #require(Self.sdkPython)
        // A key of the user's own in the environment does not reach the child.
        let user = ["ANTHROPIC_AUTH_TOKEN": "users-own-token", "ANTHROPIC_API_KEY": "users-own-key"]
        let ran = try fixture.sandbox.client(["exec", "--profile", "api", "--", python, Binaries.repositoryRoot + "/Tests/Servers/sdk/calls.py", "0"], environment: user)
        let report = try Self.report(ran)
        #expect(report.failures.isEmpty, "\(report.failures)")
        let environ = try fixture.sandbox.client(["exec", "--", python, "-c", "import sys; sys.stdout.buffer.write(open('/proc/self/environ', 'rb').read())"], environment: user)
        let variables = Set(environ.stdout.split(separator: "\0").map(String.init))
        #expect(environ.status == 0, "\(environ.stderr)")
        #expect(variables.contains("ANTHROPIC_API_KEY=claude-auth:api"))
        #expect(variables.contains("ANTHROPIC_BASE_URL=http://\(try fixture.listen())"))
        #expect(!environ.stdout.contains(Self.key) && !environ.stdout.contains("users-own"))
        #expect(try fixture.sandbox.client(["exec", "--", "sh", "-c", "exit 7"]).status == 7)
        #expect(try fixture.sandbox.client(["exec", "--", "no-such-command-here"]).status == 127)
        #expect(fixture.daemon?.stop() == 0)
        await fixture.upstream.stop()
    }

    @Test("exec without a TCP listener says how to enable one")
    func execWithoutListener() throws {
        let sandbox = try Sandbox()
        try sandbox.writeConfig("[profiles.api]\nkind = \"api-key\"\nkey_env = \"TEST_API_KEY\"\n")
        let daemon = try DaemonProcess(sandbox: sandbox, environment: ["TEST_API_KEY": Self.key])
        let result = try sandbox.client(["exec", "--", "true"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("listen = \\\"127.0.0.1:8787\\\"") || result.stderr.contains("listen = \"127.0.0.1:8787\""))
        #expect(daemon.stop() == 0)
    }
}
