import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An in-process HTTP endpoint on 127.0.0.1 whose answers a test scripts, for fault injection.
final class FaultyTokenEndpoint: Sendable {
    /// A request as received.
    struct Received: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: String
        var receivedAt = Date()
    }

    /// What to answer: a response, or nothing at all (the connection stays open until the endpoint stops).
    indirect enum Answer: Sendable {
        case respond(status: Int, headers: [(String, String)], body: [UInt8])
        case hang
        /// The answer, after a delay: a server slow to answer.
        case after(TimeAmount, Answer)

        static func json(_ status: Int, _ body: String) -> Answer {
            .respond(status: status, headers: [("content-type", "application/json")], body: Array(body.utf8))
        }
    }

    /// The requests received so far.
    private final class Log: Sendable {
        let requests = Mutex<[Received]>([])
    }

    private let channel: any Channel
    private let received = Log()
    let port: Int

    /// Starts the endpoint; with `tls` (PEM certificate and key files) it speaks HTTPS.
    init(tls: (certificate: String, key: String)? = nil, answer: @escaping @Sendable (Received) -> Answer) async throws {
        let received = self.received
        let context = try tls.map { files in
            try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: [.certificate(try NIOSSLCertificate(file: files.certificate, format: .pem))],
                    privateKey: .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem))))
        }
        scheme = tls == nil ? "http" : "https"
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(answer: answer, record: { request in
                        received.requests.withLock { $0.append(request) }
                    }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    private let scheme: String

    var url: String { "\(scheme)://127.0.0.1:\(port)/token" }

    var requests: [Received] { received.requests.withLock { $0 } }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let answer: @Sendable (Received) -> Answer
        let record: @Sendable (Received) -> Void
        var head: HTTPRequestHead?
        var body = ""

        init(answer: @escaping @Sendable (Received) -> Answer, record: @escaping @Sendable (Received) -> Void) {
            self.answer = answer
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = ""
            case .body(let buffer):
                body += String(buffer: buffer)
            case .end:
                guard let head else { return }
                let request = Received(method: head.method, uri: head.uri, headers: head.headers, body: body)
                record(request)
                write(answer(request), context: context)
            }
        }

        private func write(_ answer: Answer, context: ChannelHandlerContext) {
            switch answer {
            case .hang:
                return
            case .after(let delay, let answer):
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.write(answer, context: context) }
            case .respond(let status, let headers, let bytes):
                var responseHeaders = HTTPHeaders(headers)
                responseHeaders.add(name: "content-length", value: "\(bytes.count)")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: responseHeaders))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: bytes)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
