import NIOCore
import NIOHTTP1

/// Closes a connection whose next request has not fully arrived within a deadline.
///
/// The deadline starts when the connection opens and again after each response, and stops when a request's
/// end arrives: it bounds idle keep-alive connections and clients that trickle a request byte by byte. Moving the
/// deadline leaves the timer where it is; a timer that fires early is set again for the deadline, so a busy
/// connection does not schedule and cancel a task per request.
final class RequestTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    /// When the next request must have arrived; nil while one is being answered.
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { awaitRequest(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelActive(context: ChannelHandlerContext) {
        awaitRequest(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { deadline = nil }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { awaitRequest(context) }
        context.write(data, promise: promise)
    }

    private func awaitRequest(_ context: ChannelHandlerContext) {
        let deadline = NIODeadline.now() + timeout
        self.deadline = deadline
        if timer == nil { schedule(context, at: deadline) }
    }

    private func schedule(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            // While a request is answered there is no deadline: its response sets the next.
            guard let current = self.deadline else { return }
            if current <= .now() {
                context.channel.close(promise: nil)
            } else {
                schedule(context, at: current)
            }
        }
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        deadline = nil
    }
}
