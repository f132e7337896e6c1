import NIOCore
import NIOHTTP1

/// Answers on the event loop the requests whose answer needs no waiting (a credential in memory, health), so the
/// hot path never hops to the concurrency pool; every other request goes on, part by part, to the connection's task.
///
/// HTTP pipelining assistance, earlier in the pipeline, hands this handler a request only once the answer to the
/// one before is written, so answers stay in order whichever side gives them.
final class ImmediateResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The answer to a request, or nil to leave it to the connection's task.
    typealias Answer = @Sendable (APIRequest) -> APIResponse?

    private let answer: Answer
    private let limits: ServerLimits
    /// The head of a bodiless `GET` held back until its end arrives, to be answered here if it can be.
    private var held: HTTPRequestHead?

    init(limits: ServerLimits, answer: @escaping Answer) {
        self.limits = limits
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if mayAnswer(head) {
                held = head
            } else {
                context.fireChannelRead(data)
            }
        case .body:
            release(context)
            context.fireChannelRead(data)
        case .end:
            if let head = held {
                held = nil
                if let request = try? APIRequest(method: head.method, target: head.uri), let response = answer(request) {
                    respond(response, to: head, context: context)
                    return
                }
                context.fireChannelRead(wrapInboundOut(.head(head)))
            }
            context.fireChannelRead(data)
        }
    }

    /// Whether a request with this head may be answered here: a `GET` without a body, within the limits (the task
    /// refuses the others with the reason).
    private func mayAnswer(_ head: HTTPRequestHead) -> Bool {
        head.method == .GET && limits.refusal(of: head, bodyLimit: nil) == nil
            && head.headers["content-length"].allSatisfy { $0 == "0" } && !head.headers.contains(name: "transfer-encoding")
    }

    /// Passes a held head on, for the task to serve the request it starts.
    private func release(_ context: ChannelHandlerContext) {
        guard let head = held else { return }
        held = nil
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// Writes the answer; a request that asked to close gets the connection closed once the answer is out.
    private func respond(_ response: APIResponse, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let parts = response.parts(version: head.version, keepAlive: head.isKeepAlive)
        let closing = head.isKeepAlive ? nil : context.eventLoop.makePromise(of: Void.self)
        for (index, part) in parts.enumerated() {
            context.write(wrapOutboundOut(part), promise: index == parts.count - 1 ? closing : nil)
        }
        context.flush()
        let channel = context.channel
        closing?.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }
}
