import Logging
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection, served request by request within ``ServerLimits``: oversized or malformed requests
/// get a 4xx and the connection closes; keep-alive is honoured.
struct HTTPConnection {
    typealias Channel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    let limits: ServerLimits
    let logger: Logger

    /// The pipeline every server's connections get: HTTP/1.1 with error handling, and the request deadline.
    static func configure(_ channel: any NIOCore.Channel, limits: ServerLimits) -> EventLoopFuture<Channel> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(RequestTimeoutHandler(timeout: limits.requestTimeout))
            return try Channel(wrappingChannelSynchronously: channel)
        }
    }

    /// Answers every request on `connection` with `respond`, until the peer closes or a request ends it.
    func serve(_ connection: Channel, respond: @Sendable (APIRequest) async -> APIResponse) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var pending: (head: HTTPRequestHead, body: [UInt8])?
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        if let refusal = refusal(of: head) {
                            try await write(.error(refusal), to: outbound, version: head.version, keepAlive: false)
                            return
                        }
                        pending = (head, [])
                    case .body(let chunk):
                        guard var request = pending else { continue }
                        guard request.body.count + chunk.readableBytes <= limits.maximumBodySize else {
                            let error = ServiceError(code: .payloadTooLarge, message: "the request body is larger than \(limits.maximumBodySize) bytes")
                            try await write(.error(error), to: outbound, version: request.head.version, keepAlive: false)
                            return
                        }
                        request.body += chunk.readableBytesView
                        pending = request
                    case .end:
                        guard let request = pending else { continue }
                        pending = nil
                        let response: APIResponse
                        do throws(ServiceError) {
                            response = await respond(
                                try APIRequest(method: request.head.method, target: request.head.uri, body: request.body))
                        } catch {
                            response = .error(error)
                        }
                        let keepAlive = request.head.isKeepAlive
                        try await write(response, to: outbound, version: request.head.version, keepAlive: keepAlive)
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    /// Why a request head is refused before its body is read, if it is.
    private func refusal(of head: HTTPRequestHead) -> ServiceError? {
        if head.headers.count > limits.maximumHeaderCount {
            return ServiceError(code: .payloadTooLarge, message: "the request has more than \(limits.maximumHeaderCount) headers")
        }
        if head.uri.utf8.count > limits.maximumTargetLength {
            return ServiceError(code: .payloadTooLarge, message: "the request target is longer than \(limits.maximumTargetLength) bytes")
        }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limits.maximumBodySize {
            return ServiceError(code: .payloadTooLarge, message: "the request body is larger than \(limits.maximumBodySize) bytes")
        }
        return nil
    }

    private func write(
        _ response: APIResponse,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        version: HTTPVersion,
        keepAlive: Bool
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: "\(response.body.count)")
        headers.add(name: "cache-control", value: "no-store")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        try await outbound.write(contentsOf: [
            .head(HTTPResponseHead(version: version, status: response.status, headers: headers)),
            .body(.byteBuffer(ByteBuffer(bytes: response.body))),
            .end(nil),
        ])
    }
}
