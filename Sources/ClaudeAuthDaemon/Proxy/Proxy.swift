import AsyncAlgorithms
import AsyncHTTPClient
import ClaudeAuthAPI
import ClaudeAuthCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The local reverse proxy: forwards a request to its profile's `upstream` with the profile's credential in place
/// of the client's, and streams the answer back as it comes. For an `oauth` profile, an upstream 401 that comes
/// before any byte went back becomes one fingerprint-checked refresh and one replay.
struct Proxy: Sendable {
    /// The largest request body kept for a replay; a larger one streams upstream as it arrives, without one.
    static let replayLimit = 32 * 1024 * 1024
    /// The largest 401 answer held while a refresh decides whether to replay.
    static let refusalLimit = 1024 * 1024

    let credentials: CredentialService
    let upstream: UpstreamClient
    let statistics: ProxyStatistics
    let logger: Logger

    /// The route for a socket's `/proxy/` prefix: the rest of the path goes upstream. On the remote socket, `gate`
    /// lets through only the profiles it serves.
    func socketRoute(gate: RemoteGate?) -> HTTPConnection.StreamedRoute {
        HTTPConnection.StreamedRoute(
            claims: { $0.uri.hasPrefix("/proxy/") },
            serve: { head, body, outbound in
                try await serve(head, target: String(head.uri.dropFirst("/proxy".count)), body: &body, to: outbound, gate: gate)
            })
    }

    /// Proxies one request whose head has arrived; says whether the connection may serve another.
    func serve(
        _ head: HTTPRequestHead, target: String, body: inout RequestBody, to outbound: HTTPConnection.Outbound, gate: RemoteGate? = nil
    ) async throws -> Bool {
        let started = ContinuousClock.now
        let request = ProxyRequest(head: head, target: target)
        let route: ProxyRoute
        do throws(ServiceError) {
            route = try credentials.proxyRoute(for: request.profile)
            try gate?.admit(profile: route.profile, what: "the proxy")
        } catch {
            try await Self.write(ProxyError(error), to: outbound, version: head.version)
            return false
        }
        let exchange = Exchange(request: request, route: route, version: head.version, declaredLength: head.headers.first(name: "content-length").flatMap(Int.init))
        var kept = ByteBuffer()
        var overflow = exchange.declaredLength.map { $0 > Self.replayLimit } ?? false
        while !overflow, let chunk = try await body.next() {
            kept.writeImmutableBuffer(chunk)
            overflow = kept.readableBytes > Self.replayLimit
        }
        let outcome: Outcome
        if overflow {
            outcome = try await streaming(exchange, prefix: kept, rest: &body, to: outbound)
        } else {
            outcome = await forward(exchange, body: .kept(kept), to: outbound)
        }
        record(outcome, of: exchange, method: head.method, since: started)
        if case .failed(let error) = outcome.result { throw error }
        return true
    }

    /// What one proxied request did, for the journal and `status`.
    private struct Outcome {
        enum Result {
            /// The upstream's status went back (or the proxy's own error, with its status).
            case answered(UInt, upstreamError: Bool)
            /// The connection broke after the answer began: it must close.
            case failed(any Error)
        }
        var result: Result
        var replayed = false
        var fingerprint: String?
    }

    /// A request on its way: where it goes and with what.
    private struct Exchange: Sendable {
        var request: ProxyRequest
        var route: ProxyRoute
        var version: HTTPVersion
        var declaredLength: Int?
    }

    /// The request body sent upstream.
    private enum Body: Sendable {
        /// The whole body, kept for a replay.
        case kept(ByteBuffer)
        /// Chunks as they arrive from the client, sent once.
        case streamed(AsyncChannel<ByteBuffer>)
    }

    /// Forwards a body too large to keep: the client's chunks go upstream as they arrive, with no replay.
    private func streaming(_ exchange: Exchange, prefix: ByteBuffer, rest body: inout RequestBody, to outbound: HTTPConnection.Outbound)
        async throws -> Outcome
    {
        let chunks = AsyncChannel<ByteBuffer>()
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask {
                let outcome = await forward(exchange, body: .streamed(chunks), to: outbound)
                chunks.finish()
                return outcome
            }
            // A finished channel takes no more chunks: what is left of the body is read and dropped.
            if prefix.readableBytes > 0 { await chunks.send(prefix) }
            while let chunk = try await body.next() { await chunks.send(chunk) }
            chunks.finish()
            guard let outcome = try await group.next() else { throw RequestBody.Truncated() }
            return outcome
        }
    }

    /// Sends the request, replays it once after a 401 for an `oauth` credential with a kept body, and streams the
    /// answer to the client.
    private func forward(_ exchange: Exchange, body: Body, to outbound: HTTPConnection.Outbound) async -> Outcome {
        let route = exchange.route
        var outcome = Outcome(result: .answered(0, upstreamError: false))
        do {
            var served: ServedCredential
            do throws(ServiceError) {
                served = try await credentials.credential(for: route.profile)
            } catch {
                return try await answer(ProxyError(error), exchange, outcome, to: outbound)
            }
            outcome.fingerprint = served.secret.fingerprint
            while true {
                let response: HTTPClientResponse
                do {
                    response = try await upstream.send(upstreamRequest(exchange, served, body), timeout: route.upstreamTimeout)
                } catch {
                    outcome.result = .answered(0, upstreamError: true)
                    return try await answer(ProxyError.upstream(error, origin: route.upstream.origin, timeout: route.upstreamTimeout), exchange, outcome, to: outbound)
                }
                guard response.status == .unauthorized, served.kind == .oauth, !outcome.replayed, case .kept = body else {
                    try await relay(response, exchange, to: outbound)
                    outcome.result = .answered(response.status.code, upstreamError: false)
                    return outcome
                }
                let refusal = try await response.body.collect(upTo: Self.refusalLimit)
                guard let renewed = await renewed(after: served, profile: route.profile) else {
                    try await relay(response, body: refusal, exchange, to: outbound)
                    outcome.result = .answered(response.status.code, upstreamError: false)
                    return outcome
                }
                served = renewed
                outcome.replayed = true
                outcome.fingerprint = renewed.secret.fingerprint
            }
        } catch {
            outcome.result = .failed(error)
            return outcome
        }
    }

    /// A new credential after the upstream refused `served`: the same refresh as `POST /v1/refresh?if_fingerprint=`,
    /// so many requests refused one token cause one refresh. Nil when no other token can be had.
    private func renewed(after served: ServedCredential, profile: String) async -> ServedCredential? {
        switch await credentials.sessions.refresh(served.profile, trigger: .onDemand, ifFingerprint: served.secret.fingerprint) {
        case .refreshed, .alreadyReplaced:
            guard let renewed = try? await credentials.credential(for: profile), renewed.secret != served.secret else { return nil }
            return renewed
        case .notStarted, .failed:
            return nil
        }
    }

    private func upstreamRequest(_ exchange: Exchange, _ served: ServedCredential, _ body: Body) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: exchange.route.upstream.baseURL + exchange.request.target)
        request.method = exchange.request.method
        request.headers = exchange.request.upstreamHeaders(with: served)
        switch body {
        case .kept(let bytes):
            if bytes.readableBytes > 0 || exchange.declaredLength != nil || exchange.request.method == .POST { request.body = .bytes(bytes) }
        case .streamed(let chunks):
            request.body = .stream(chunks, length: exchange.declaredLength.map { .known(Int64($0)) } ?? .unknown)
        }
        request.trust(caFile: exchange.route.caFile)
        return request
    }

    /// Streams the upstream's answer to the client, chunk by chunk as it arrives.
    private func relay(_ response: HTTPClientResponse, body: ByteBuffer? = nil, _ exchange: Exchange, to outbound: HTTPConnection.Outbound) async throws {
        var headers = HTTPHeaders()
        for (name, value) in response.headers where !ProxyRequest.hopByHopResponse.contains(name.lowercased()) {
            headers.add(name: name, value: value)
        }
        if let body {
            headers.replaceOrAdd(name: "content-length", value: "\(body.readableBytes)")
        }
        try await outbound.write(.head(HTTPResponseHead(version: exchange.version, status: response.status, headers: headers)))
        if let body {
            try await outbound.write(.body(.byteBuffer(body)))
        } else {
            for try await chunk in response.body {
                try await outbound.write(.body(.byteBuffer(chunk)))
            }
        }
        try await outbound.write(.end(nil))
    }

    private func answer(_ error: ProxyError, _ exchange: Exchange, _ outcome: Outcome, to outbound: HTTPConnection.Outbound) async throws -> Outcome {
        var outcome = outcome
        try await Self.write(error, to: outbound, version: exchange.version)
        if case .answered(_, let upstreamError) = outcome.result { outcome.result = .answered(error.status.code, upstreamError: upstreamError) }
        return outcome
    }

    static func write(_ error: ProxyError, to outbound: HTTPConnection.Outbound, version: HTTPVersion) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: "\(error.body.count)")
        headers.add(name: "x-claude-auth-proxy-error", value: error.type)
        try await outbound.write(contentsOf: [
            .head(HTTPResponseHead(version: version, status: error.status, headers: headers)),
            .body(.byteBuffer(ByteBuffer(bytes: error.body))),
            .end(nil),
        ])
    }

    private func record(_ outcome: Outcome, of exchange: Exchange, method: HTTPMethod, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "event": "proxy", "profile": "\(exchange.route.profile)", "method": "\(method.rawValue)",
            "path": "\(exchange.request.target.prefix { $0 != "?" })", "duration_ms": "\(Int(clampingSeconds: milliseconds))",
            "replayed": "\(outcome.replayed)",
        ]
        if let fingerprint = outcome.fingerprint { metadata["fingerprint"] = "\(fingerprint)" }
        switch outcome.result {
        case .answered(let status, let upstreamError):
            metadata["status"] = "\(status)"
            statistics.count(exchange.route.profile, replayed: outcome.replayed, upstreamError: upstreamError)
        case .failed:
            metadata["status"] = "aborted"
            statistics.count(exchange.route.profile, replayed: outcome.replayed, upstreamError: true)
        }
        logger.info("proxied a request", metadata: metadata)
    }
}

/// Where the proxy sends a profile's requests.
struct ProxyRoute: Sendable {
    var profile: String
    var upstream: EndpointURL
    var caFile: String?
    /// Seconds the upstream has to begin its answer.
    var upstreamTimeout: Int
}

/// Per-profile counts of what the proxy did since the daemon started.
final class ProxyStatistics: Sendable {
    private let counters = Mutex<[String: ProxyCounters]>([:])
    private let address = Mutex<String?>(nil)

    /// The TCP listener's address once it is bound (with the port chosen for port 0); nil without one.
    var listening: String? {
        get { address.withLock { $0 } }
        set { address.withLock { $0 = newValue } }
    }

    func count(_ profile: String, replayed: Bool, upstreamError: Bool) {
        counters.withLock { counters in
            counters[profile, default: ProxyCounters()].requests += 1
            if replayed { counters[profile, default: ProxyCounters()].replays += 1 }
            if upstreamError { counters[profile, default: ProxyCounters()].upstreamErrors += 1 }
        }
    }

    func counters(of profile: String) -> ProxyCounters? {
        counters.withLock { $0[profile] }
    }
}
