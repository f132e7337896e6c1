import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A stand-in for the Messages API on 127.0.0.1 over HTTPS under the test's own certificate: `POST /v1/messages`
/// answers as JSON, or as server-sent events when the body asks `"stream": true`, after judging the credential of
/// every request with `accepts`, given the credential and the moment the request arrived. It keeps what it received
/// and when it sent each event.
final class MessagesUpstream: Sendable {
    /// One request as it arrived.
    struct Received: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var body: [UInt8]
        /// The credential presented: the bearer token or the `x-api-key` value.
        var credential: String?
        var accepted: Bool

        func header(_ name: String) -> [String] {
            headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }
    }

    /// How it answers.
    enum Mode: Sendable {
        case normal
        /// Accepts the connection and the request, and never answers.
        case silent
        /// Answers 307 to another URL.
        case redirect(String)
    }

    private final class State: Sendable {
        let received = Mutex<[Received]>([])
        let revoked = Mutex<Set<String>>([])
        /// Refusals held back until this many have been decided, then all sent at once.
        let held = Mutex<(until: Int, waiting: [@Sendable () -> Void])>((0, []))
        let eventsSent = Atomic(0)
        let mode = Mutex<Mode>(.normal)
    }

    let port: Int
    /// The gap between two events of a stream.
    let eventGap: TimeAmount
    private let channel: any Channel
    private let state = State()

    /// Serves with `certificate` and `key` (PEM files); `accepts` judges a credential, off the event loop.
    init(certificate: String, key: String, eventGap: TimeAmount = .milliseconds(20), accepts: @escaping @Sendable (String, Date) -> Bool) async throws {
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.file(certificate)], privateKey: .file(key)))
        let state = self.state
        self.eventGap = eventGap
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(state: state, eventGap: eventGap, accepts: accepts))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    var url: String { "https://127.0.0.1:\(port)" }

    /// Every request so far, in arrival order.
    var received: [Received] { state.received.withLock { $0 } }

    /// The events written to streams so far, counted when handed to the connection.
    var eventsSent: Int { state.eventsSent.load(ordering: .sequentiallyConsistent) }

    /// Every later request presenting `credential` gets 401 though it has not expired: an upstream that revoked it early.
    /// With `holdingRefusalsUntil`, the refusals are held until that many are due, and then sent together: every
    /// one of that many requests meets the refusal before any client can react to one.
    func revoke(_ credential: String, holdingRefusalsUntil count: Int = 0) {
        _ = state.revoked.withLock { $0.insert(credential) }
        state.held.withLock { $0 = (count, []) }
    }

    func setMode(_ mode: Mode) {
        state.mode.withLock { $0 = mode }
    }

    func stop() async {
        try? await channel.close()
    }

    /// The events of one streamed answer, as the Messages API sends them.
    static let streamEvents: [(String, String)] = {
        var events = [
            ("message_start", #"{"type":"message_start","message":{"id":"msg_test","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
        ]
        for word in ["one ", "two ", "three ", "four ", "five"] {
            events.append(("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\#(word)"}}"#))
        }
        events += [
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}"#),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        return events
    }()

    /// The text a streamed answer spells out.
    static let streamText = "one two three four five"

    static let message = #"{"id":"msg_test","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"hello from upstream"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":4}}"#

    private final class Handler: WholeRequestHandler, @unchecked Sendable {
        let state: State
        let eventGap: TimeAmount
        let accepts: @Sendable (String, Date) -> Bool

        static let json: HTTPHeaders = ["content-type": "application/json"]

        init(state: State, eventGap: TimeAmount, accepts: @escaping @Sendable (String, Date) -> Bool) {
            self.state = state
            self.eventGap = eventGap
            self.accepts = accepts
        }

        override func received(_ head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) {
            let (state, accepts, arrival) = (state, accepts, Date())
            let credential = head.headers.first(name: "authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
                ?? head.headers.first(name: "x-api-key")
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { () -> Bool in
                let rejected = credential.map { token in state.revoked.withLock { $0.contains(token) } } ?? true
                let accepted = !rejected && credential.map { accepts($0, arrival) } == true
                state.received.withLock {
                    $0.append(Received(method: "\(head.method.rawValue)", uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body,
                                       credential: credential, accepted: accepted))
                }
                return accepted
            }.whenComplete { result in
                let accepted = (try? result.get()) == true
                let loop = bound.eventLoop
                let send: @Sendable () -> Void = {
                    loop.execute { bound.value.0.answer(head, body: body, accepted: accepted, context: bound.value.1) }
                }
                let release: [@Sendable () -> Void]? = accepted ? [] : state.held.withLock { held in
                    guard held.until > 0 else { return [] }
                    held.waiting.append(send)
                    guard held.waiting.count >= held.until else { return nil }
                    defer { held = (0, []) }
                    return held.waiting
                }
                guard let release else { return }
                if release.isEmpty { send() }
                for waiting in release { waiting() }
            }
        }

        private func answer(_ head: HTTPRequestHead, body: [UInt8], accepted: Bool, context: ChannelHandlerContext) {
            switch state.mode.withLock({ $0 }) {
            case .silent:
                return
            case .redirect(let location):
                return write(307, ["content-type": "text/plain", "location": location], Array("moved\n".utf8), context: context)
            case .normal:
                break
            }
            guard accepted else {
                return write(401, Self.json, Array(#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#.utf8), context: context)
            }
            guard head.uri.hasPrefix("/v1/messages") else {
                return write(200, Self.json, Array(#"{"path":"\#(head.uri)","bytes":\#(body.count)}"#.utf8), context: context)
            }
            let streamed = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["stream"] as? Bool == true
            guard streamed else { return write(200, Self.json, Array(MessagesUpstream.message.utf8), context: context) }
            var headers = HTTPHeaders([("content-type", "text/event-stream"), ("cache-control", "no-cache")])
            headers.add(name: "transfer-encoding", value: "chunked")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            sendEvent(0, context: context)
        }

        private func sendEvent(_ index: Int, context: ChannelHandlerContext) {
            let events = MessagesUpstream.streamEvents
            guard index < events.count else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let (name, data) = events[index]
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "event: \(name)\ndata: \(data)\n\n")))), promise: nil)
            state.eventsSent.add(1, ordering: .sequentiallyConsistent)
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: eventGap) {
                let (handler, context) = bound.value
                handler.sendEvent(index + 1, context: context)
            }
        }
    }
}
