import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A git smart-HTTP server on 127.0.0.1: `git http-backend` (real git's CGI) behind a front that demands HTTP
/// Basic credentials and checks the password as a bearer token with `accepts`, as forges do with OAuth tokens
/// (git 2.39 sends a helper's token as the Basic password).
final class GitHTTPServer: Sendable {
    /// The credentials a request came with.
    struct Attempt: Sendable, Equatable {
        var username: String
        var password: String
        var accepted: Bool
    }

    private final class State: Sendable {
        let attempts = Mutex<[Attempt]>([])
        /// Tokens to turn away once even though they are valid: a server that revoked one early.
        let rejectOnce = Mutex<Set<String>>([])
    }

    let root: String
    let port: Int
    private let channel: any Channel
    private let state = State()

    /// Serves the bare repositories under `root`; `accepts` judges a token.
    init(root: String, accepts: @escaping @Sendable (String) -> Bool) async throws {
        self.root = root
        let state = self.state
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(root: root, state: state, accepts: accepts))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    /// Every request's credentials, in order.
    var attempts: [Attempt] { state.attempts.withLock { $0 } }

    /// The next request carrying `token` is refused with 401.
    func rejectOnce(_ token: String) {
        _ = state.rejectOnce.withLock { $0.insert(token) }
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: WholeRequestHandler, @unchecked Sendable {
        let root: String
        let state: State
        let accepts: @Sendable (String) -> Bool

        init(root: String, state: State, accepts: @escaping @Sendable (String) -> Bool) {
            self.root = root
            self.state = state
            self.accepts = accepts
        }

        override func received(_ head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
            let (root, state, accepts) = (root, state, accepts)
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            // The token check and the CGI block: off the event loop.
            NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
                Self.answer(head, body: body, root: root, state: state, accepts: accepts)
            }.whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let response): handler.write(response.status, HTTPHeaders(response.headers), response.body, context: context)
                case .failure: handler.write(500, [:], [], context: context)
                }
            }
        }

        private static func answer(_ head: HTTPRequestHead, body: [UInt8], root: String, state: State, accepts: @Sendable (String) -> Bool)
            -> (status: Int, headers: [(String, String)], body: [UInt8])
        {
            let challenge = (401, [("www-authenticate", "Basic realm=\"git\"")], Array("authentication required\n".utf8))
            guard let authorization = head.headers.first(name: "authorization"), authorization.hasPrefix("Basic "),
                let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":")
            else { return challenge }
            let (username, password) = (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
            let rejected = state.rejectOnce.withLock { $0.remove(password) != nil }
            let accepted = !rejected && accepts(password)
            state.attempts.withLock { $0.append(Attempt(username: username, password: password, accepted: accepted)) }
            guard accepted else { return challenge }
            return cgi(head, body: body, root: root, user: username)
        }

        /// Runs `git http-backend` for the request, as a web server runs a CGI program.
        private static func cgi(_ head: HTTPRequestHead, body: [UInt8], root: String, user: String) -> (status: Int, headers: [(String, String)], body: [UInt8]) {
            let (path, query) = head.uri.split(separator: "?", maxSplits: 1).map(String.init).splitFirst()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: which("git") ?? "/usr/bin/git")
            process.arguments = ["http-backend"]
            var environment = [
                "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query ?? "",
                "REQUEST_METHOD": "\(head.method.rawValue)", "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
                "CONTENT_LENGTH": "\(body.count)", "PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
            ]
            if let type = head.headers.first(name: "content-type") { environment["CONTENT_TYPE"] = type }
            if let encoding = head.headers.first(name: "content-encoding") { environment["HTTP_CONTENT_ENCODING"] = encoding }
            if let protocolHeader = head.headers.first(name: "git-protocol") { environment["GIT_PROTOCOL"] = protocolHeader }
            process.environment = environment
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                return (500, [], Array("cannot run git http-backend: \(error)\n".utf8))
            }
            input.fileHandleForWriting.write(Data(body))
            try? input.fileHandleForWriting.close()
            let produced = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
            process.waitUntilExit()
            // CGI output: header lines, a blank line, the body.
            guard let split = produced.firstRange(of: Array("\r\n\r\n".utf8)) ?? produced.firstRange(of: Array("\n\n".utf8)) else {
                return (502, [], produced)
            }
            var status = 200
            var headers: [(String, String)] = []
            for line in String(decoding: produced[..<split.lowerBound], as: UTF8.self).split(whereSeparator: \.isNewline) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].trimmingCharacters(in: .whitespaces)
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name.lowercased() == "status" { status = Int(value.prefix(3)) ?? 500 } else { headers.append((name, value)) }
            }
            return (status, headers, Array(produced[split.upperBound...]))
        }
    }
}

extension Array where Element == String {
    /// The first element and, if there is one, the second.
    fileprivate func splitFirst() -> (String, String?) {
        (first ?? "", count > 1 ? self[1] : nil)
    }
}
