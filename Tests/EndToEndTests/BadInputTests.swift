import Foundation
import Testing

/// Requests no client should send: each gets a clear answer or a closed connection, and the daemon keeps serving.
@Suite("bad socket requests")
struct BadInputTests {
    static let key = "sk-ant-api03-BADINPUT-0006"
    let sandbox: Sandbox
    let daemon: DaemonProcess

    /// A daemon with the default request timeout: a loaded machine may take seconds between a connect and its
    /// request. Only `slowClient` shortens it, on a daemon of its own.
    init() throws {
        (sandbox, daemon) = try Self.start(arguments: [])
    }

    static func start(arguments: [String]) throws -> (Sandbox, DaemonProcess) {
        let sandbox = try Sandbox()
        try sandbox.writeConfig("[profiles.default]\nkind = \"api-key\"\nkey_env = \"ANTHROPIC_API_KEY\"\n")
        return (sandbox, try DaemonProcess(sandbox: sandbox, arguments: arguments, environment: ["ANTHROPIC_API_KEY": Self.key]))
    }

    func stillServes(_ sandbox: Sandbox? = nil) throws -> Bool {
        try (sandbox ?? self.sandbox).client(["token"]).stdout == Self.key + "\n"
    }

    @Test("garbage instead of HTTP gets 400 and the connection closed")
    func garbage() throws {
        let connection = try RawConnection(path: sandbox.socketPath)
        connection.send("\u{01}\u{02}NOT HTTP AT ALL\r\n\r\n")
        let answer = try #require(connection.readToEnd())
        #expect(answer.hasPrefix("HTTP/1.1 400"))
        #expect(try stillServes())
    }

    @Test("too many headers, an oversized target, and an oversized body get 413")
    func oversized() throws {
        let manyHeaders = try RawConnection(path: sandbox.socketPath)
        manyHeaders.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n" + (0..<100).map { "X-H\($0): v\r\n" }.joined() + "\r\n")
        let first = try #require(manyHeaders.readToEnd())
        #expect(first.hasPrefix("HTTP/1.1 413"))
        #expect(first.contains("more than 64 headers"))

        let longTarget = try RawConnection(path: sandbox.socketPath)
        longTarget.send("GET /v1/header?profile=" + String(repeating: "a", count: 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try #require(longTarget.readToEnd()).hasPrefix("HTTP/1.1 413"))

        let bigBody = try RawConnection(path: sandbox.socketPath)
        bigBody.send("PUT /v1/key HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        #expect(try #require(bigBody.readToEnd()).hasPrefix("HTTP/1.1 413"))

        let chunked = try RawConnection(path: sandbox.socketPath)
        chunked.send("PUT /v1/key HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = String(repeating: "k", count: 8192)
        for _ in 0..<4 { chunked.send(String(8192, radix: 16) + "\r\n" + chunk + "\r\n") }
        #expect(try #require(chunked.readToEnd()).hasPrefix("HTTP/1.1 413"))
        #expect(try stillServes())
    }

    @Test("an endless header line is cut off with 400")
    func headerOverflow() throws {
        let connection = try RawConnection(path: sandbox.socketPath)
        connection.send("GET /v1/health HTTP/1.1\r\nX-Long: ")
        let filler = String(repeating: "x", count: 16 * 1024)
        var sent = 0
        while sent < 200 * 1024, connection.send(filler) { sent += filler.count }
        let answer = try #require(connection.readToEnd())
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 4"))
        #expect(try stillServes())
    }

    @Test("a client that trickles its request is disconnected after the request timeout; others are served meanwhile")
    func slowClient() throws {
        let (sandbox, daemon) = try Self.start(arguments: ["--request-timeout", "1"])
        let slow = try RawConnection(path: sandbox.socketPath)
        slow.send("GET /v1/tok")
        #expect(try stillServes(sandbox))
        // The daemon closes the connection on its own (1 s here): the read ends with EOF well within the bound.
        #expect(slow.readToEnd(timeout: 30) == "")
        #expect(try stillServes(sandbox))
        daemon.stop()
    }

    @Test("malformed API requests get the right status and error code")
    func malformedAPIRequests() throws {
        func request(_ line: String, body: String = "") throws -> String {
            let connection = try RawConnection(path: sandbox.socketPath)
            connection.send("\(line) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            return try #require(connection.readToEnd())
        }
        let unknownPath = try request("GET /v2/everything")
        #expect(unknownPath.hasPrefix("HTTP/1.1 404"))
        #expect(unknownPath.contains("\"code\":\"not_found\""))
        let wrongMethod = try request("DELETE /v1/token")
        #expect(wrongMethod.hasPrefix("HTTP/1.1 400"))
        #expect(wrongMethod.contains("\"code\":\"invalid_request\""))
        let badEncoding = try request("GET /v1/token?profile=%zz")
        #expect(badEncoding.contains("\"code\":\"invalid_request\""))
        let unknownProfile = try request("GET /v1/token?profile=ghost")
        #expect(unknownProfile.hasPrefix("HTTP/1.1 404"))
        #expect(unknownProfile.contains("\"code\":\"unknown_profile\""))
        let login = try request("POST /v1/login", body: "{\"profile\":\"default\"}")
        #expect(login.contains("\"code\":\"invalid_request\""))
        #expect(try stillServes())
    }

    @Test("keep-alive: several requests on one connection")
    func keepAlive() throws {
        let connection = try RawConnection(path: sandbox.socketPath)
        for _ in 0..<3 {
            connection.send("GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = try #require(connection.readResponse())
            #expect(answer.hasPrefix("HTTP/1.1 200"))
            #expect(answer.hasSuffix(Self.key + "\n"))
        }
    }

    @Test("pipelined requests are answered in order, whether the event loop or the connection's task answers each")
    func pipelined() throws {
        let connection = try RawConnection(path: sandbox.socketPath)
        let requests = [
            ("GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\n", Self.key + "\n"),  // the key's first read: the task
            ("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", "\"profiles\""),  // always the task
            ("GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\n", Self.key + "\n"),  // in memory now: the event loop
            ("GET /v1/token?profile=ghost HTTP/1.1\r\nHost: x\r\n\r\n", "unknown_profile"),
            ("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n", "\"version\""),
            ("GET /v1/header HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", "x-api-key: " + Self.key),  // a body: the task
            ("GET /v1/headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "\"x-api-key\":\"" + Self.key),
        ]
        connection.send(requests.map(\.0).joined())
        // The last asked to close: the answers end with the connection.
        let answers = try #require(connection.readToEnd()).components(separatedBy: "HTTP/1.1 ").dropFirst()
        #expect(answers.count == requests.count)
        for (answer, (request, expected)) in zip(answers, requests) {
            #expect(answer.contains(expected), "\(request.prefix(40)) answered \(answer)")
        }
        #expect(answers.last?.contains("connection: close") == true)
    }

    @Test("answers from the event loop and from the connection's task keep one connection in step; HEAD gets no body")
    func mixedAnswers() throws {
        let connection = try RawConnection(path: sandbox.socketPath)
        // The key's first read is the task's; then it is in memory, and the event loop answers, many times over.
        for _ in 0..<50 {
            connection.send("GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(connection.readResponse()?.hasSuffix("\r\n\r\n" + Self.key + "\n") == true)
        }
        // HEAD is the task's: the head of its answer and nothing more, so the next answer follows at once. Then, in one
        // write, one the event loop answers, one the task answers, and the rest behind it.
        connection.send("HEAD /v1/token HTTP/1.1\r\nHost: x\r\n\r\n")
        connection.send(
            "GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /v1/token HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answers = try #require(connection.readToEnd()).components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0 }
        #expect(answers.count == 5, "\(answers)")
        #expect(answers.first.map { $0.hasPrefix("400 ") && $0.hasSuffix("\r\n\r\n") } == true, "[\(answers.first ?? "")]")
        #expect(answers.dropFirst().first?.hasSuffix("\r\n\r\n" + Self.key + "\n") == true)
        #expect(answers.dropFirst(2).first?.contains("\"profiles\"") == true)
        #expect(answers.dropFirst(3).first?.hasSuffix("\r\n\r\n" + Self.key + "\n") == true)
        #expect(answers.last?.contains("\"version\"") == true)
    }

    @Test("200 clients connected at once are all served")
    func concurrentClients() throws {
        let connections = try (0..<200).map { _ in try RawConnection(path: sandbox.socketPath) }
        for connection in connections {
            connection.send("GET /v1/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        }
        var served = 0
        for connection in connections where connection.readToEnd()?.hasSuffix(Self.key + "\n") == true {
            served += 1
        }
        #expect(served == 200)
        #expect(try stillServes())
        #expect(daemon.process.isRunning)
    }
}
