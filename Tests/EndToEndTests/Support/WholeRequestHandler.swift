import NIOCore
import NIOHTTP1

/// The test servers' common part: collects each request's head and body, hands them to ``received(_:body:context:)``
/// on the event loop, and writes whole answers.
class WholeRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            received(head, body: body, context: context)
        }
    }

    /// One whole request; to be answered with ``write(_:_:_:context:)`` or the context's own writes.
    func received(_ head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {}

    /// Writes a whole answer with its length.
    func write(_ status: Int, _ headers: HTTPHeaders, _ body: [UInt8], context: ChannelHandlerContext) {
        var headers = headers
        headers.replaceOrAdd(name: "content-length", value: "\(body.count)")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
