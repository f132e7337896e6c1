import ClaudeAuthAPI
import Logging
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection, served request by request within ``ServerLimits``: oversized or malformed requests
/// get a 4xx and the connection closes; keep-alive is honoured.
struct HTTPConnection {
    typealias Channel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    typealias Outbound = NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>

    /// Requests served by a handler that reads their body itself and writes its own response: the proxy's.
    struct StreamedRoute: Sendable {
        /// Whether the handler serves a request with this head.
        var claims: @Sendable (HTTPRequestHead) -> Bool
        /// Serves the request; says whether the connection may serve another.
        var serve: @Sendable (HTTPRequestHead, inout RequestBody, Outbound) async throws -> Bool
    }

    let limits: ServerLimits
    let logger: Logger

    /// The pipeline every server's connections get: HTTP/1.1 with pipelining, header validation and error handling,
    /// and right after the decoder the request deadline and the requests `immediate` answers on the event loop.
    ///
    /// The handlers are added one by one rather than by `configureHTTPServerPipeline`: its array of handlers costs a
    /// runtime conformance lookup per handler on every connection, and its decoder tells the encoder each request's
    /// method, a queue that answers written past the encoder would put out of step. ``write(_:to:for:keepAlive:)``
    /// leaves the body out of answers to `HEAD` instead.
    static func configure(_ channel: any NIOCore.Channel, limits: ServerLimits, immediate: FrontHandler.Answer? = nil) -> EventLoopFuture<Channel> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(HTTPResponseEncoder())
            try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try pipeline.addHandler(FrontHandler(limits: limits, answer: immediate))
            try pipeline.addHandler(HTTPServerPipelineHandler())
            try pipeline.addHandler(NIOHTTPResponseHeadersValidator())
            try pipeline.addHandler(HTTPServerProtocolErrorHandler())
            return try Channel(wrappingChannelSynchronously: channel)
        }
    }

    /// Answers every request on `connection` with `streamed` when it claims the request, else with `respond`, until
    /// the peer closes or a request ends it.
    func serve(_ connection: Channel, respond: @Sendable (APIRequest) async -> APIResponse, streamed: StreamedRoute? = nil) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var body = RequestBody(parts: inbound.makeAsyncIterator())
                while let head = try await body.nextHead() {
                    if let streamed, streamed.claims(head) {
                        if let refusal = limits.refusal(of: head, bodyLimit: nil) {
                            try await write(.error(refusal), to: outbound, for: head, keepAlive: false)
                            return
                        }
                        let keepAlive = try await streamed.serve(head, &body, outbound)
                        guard keepAlive, head.isKeepAlive, body.ended else { return }
                        continue
                    }
                    if let refusal = limits.refusal(of: head, bodyLimit: limits.maximumBodySize) {
                        try await write(.error(refusal), to: outbound, for: head, keepAlive: false)
                        return
                    }
                    var bytes: [UInt8] = []
                    while let chunk = try await body.next() {
                        guard bytes.count + chunk.readableBytes <= limits.maximumBodySize else {
                            let error = ServiceError(code: .payloadTooLarge, message: "the request body is larger than \(limits.maximumBodySize) bytes")
                            try await write(.error(error), to: outbound, for: head, keepAlive: false)
                            return
                        }
                        bytes += chunk.readableBytesView
                    }
                    let response: APIResponse
                    do throws(ServiceError) {
                        response = await respond(try APIRequest(method: head.method, target: head.uri, body: bytes))
                    } catch {
                        response = .error(error)
                    }
                    try await write(response, to: outbound, for: head, keepAlive: head.isKeepAlive)
                    if !head.isKeepAlive { return }
                }
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    /// Writes the answer to the request with `head`; an answer to `HEAD` goes without its body.
    private func write(
        _ response: APIResponse,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        for head: HTTPRequestHead,
        keepAlive: Bool
    ) async throws {
        var parts = response.parts(version: head.version, keepAlive: keepAlive)
        if head.method == .HEAD { parts.removeAll { if case .body = $0 { true } else { false } } }
        try await outbound.write(contentsOf: parts)
    }
}

/// A connection's request parts, read in order: each head, then the body of its request chunk by chunk.
struct RequestBody {
    /// The peer broke HTTP's framing: a head within a body, or the connection closed in the middle of one.
    struct Truncated: Error {}

    private var parts: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator
    /// Whether the current request's end has arrived.
    private(set) var ended = true

    init(parts: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator) {
        self.parts = parts
    }

    /// The next request's head, skipping what is left of the current one's body; nil once the peer is done.
    mutating func nextHead() async throws -> HTTPRequestHead? {
        while try await next() != nil {}
        guard let part = try await parts.next() else { return nil }
        guard case .head(let head) = part else { throw Truncated() }
        ended = false
        return head
    }

    /// The current request's next body chunk; nil at its end.
    mutating func next() async throws -> ByteBuffer? {
        guard !ended else { return nil }
        switch try await parts.next() {
        case .body(let chunk): return chunk
        case .end: ended = true; return nil
        case .head, nil: throw Truncated()
        }
    }
}
