import NIOCore
import NIOHTTP1

/// The first handler after the HTTP decoder on every connection: it keeps the request deadline, and answers on the
/// event loop the requests whose answer needs no waiting (a credential in memory, health). Every other request goes
/// on, part by part, through NIO's pipelining handler to the connection's task.
///
/// An answer given here is one buffer written past the response encoder, so it passes no other handler and the hot
/// path never hops to the concurrency pool. Answers stay in order: a request is answered here only when every request
/// before it has been; while the task owes an answer, the requests behind it go the task's way, which keeps order.
///
/// The deadline runs while no request waits for an answer: from the connection's start, and from each answer until
/// the next request has fully arrived. It bounds idle keep-alive connections and clients that trickle a request byte
/// by byte. Moving it leaves the timer where it is; a timer that fires early is set again for the deadline, so a busy
/// connection does not schedule and cancel a task per request.
final class FrontHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The answer to a request, or nil to leave it to the connection's task.
    typealias Answer = @Sendable (APIRequest) -> APIResponse?

    private let limits: ServerLimits
    private let answer: Answer?
    /// The head of a bodiless `GET` held back until its end arrives, to be answered here if it can be.
    private var held: HTTPRequestHead?
    /// Requests that have fully arrived and are not answered yet.
    private var unanswered = 0
    /// When the next request must have arrived; nil while one waits for its answer.
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    /// Where answers given here enter the pipeline: the response encoder's context, which writes to the socket.
    private var encoder: ChannelHandlerContext?
    private var unflushed = false
    /// The last answer given here and its bytes: a client asking again and again is answered the same bytes.
    private var lastAnswer: (response: APIResponse, version: HTTPVersion, bytes: ByteBuffer)?

    init(limits: ServerLimits, answer: Answer?) {
        self.limits = limits
        self.answer = answer
    }

    func handlerAdded(context: ChannelHandlerContext) {
        encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
        if context.channel.isActive { awaitRequest(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopTimer()
        encoder = nil
        lastAnswer = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        awaitRequest(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if unanswered == 0, mayAnswer(head) {
                held = head
            } else {
                context.fireChannelRead(data)
            }
        case .body:
            release(context)
            context.fireChannelRead(data)
        case .end:
            unanswered += 1
            deadline = nil
            if let head = held, let answer, let request = try? APIRequest(method: head.method, target: head.uri), let response = answer(request) {
                held = nil
                respond(response, to: head, context: context)
                return
            }
            release(context)
            context.fireChannelRead(data)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushed {
            unflushed = false
            encoder?.flush()
        }
        context.fireChannelReadComplete()
    }

    /// The task's answers pass here on their way out: each one's end lets the next request be answered here.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { answered(context) }
        context.write(data, promise: promise)
    }

    /// Whether a request with this head may be answered here: a `GET` without a body, within the limits (the task
    /// refuses the others with the reason).
    private func mayAnswer(_ head: HTTPRequestHead) -> Bool {
        answer != nil && encoder != nil && head.method == .GET && limits.refusal(of: head, bodyLimit: nil) == nil
            && head.headers["content-length"].allSatisfy { $0 == "0" } && !head.headers.contains(name: "transfer-encoding")
    }

    /// Passes a held head on, for the task to serve the request it starts.
    private func release(_ context: ChannelHandlerContext) {
        guard let head = held else { return }
        held = nil
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// Writes the answer, flushed once the read that brought its request is done; a request that asked to close gets
    /// the connection closed once the answer is out.
    private func respond(_ response: APIResponse, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let encoder else { return }
        guard head.isKeepAlive else {
            let bytes = response.encoded(version: head.version, keepAlive: false, allocator: context.channel.allocator)
            let channel = context.channel
            encoder.writeAndFlush(NIOAny(bytes)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let bytes: ByteBuffer
        if let last = lastAnswer, last.response == response, last.version == head.version {
            bytes = last.bytes
        } else {
            bytes = response.encoded(version: head.version, keepAlive: true, allocator: context.channel.allocator)
            lastAnswer = (response, head.version, bytes)
        }
        encoder.write(NIOAny(bytes), promise: nil)
        unflushed = true
        answered(context)
    }

    private func answered(_ context: ChannelHandlerContext) {
        unanswered = max(unanswered - 1, 0)
        if unanswered == 0 { awaitRequest(context) }
    }

    private func awaitRequest(_ context: ChannelHandlerContext) {
        let deadline = NIODeadline.now() + limits.requestTimeout
        self.deadline = deadline
        if timer == nil { schedule(context, at: deadline) }
    }

    private func schedule(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            // While a request waits for its answer there is no deadline: the answer sets the next.
            guard let current = self.deadline else { return }
            if current <= .now() {
                context.channel.close(promise: nil)
            } else {
                schedule(context, at: current)
            }
        }
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
        deadline = nil
    }
}
