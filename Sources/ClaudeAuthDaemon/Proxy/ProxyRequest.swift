import ClaudeAuthAPI
import NIOHTTP1

/// A request to proxy, as the client sent it: the profile its placeholder credential names, and the headers to
/// forward without any credential or hop-by-hop header.
struct ProxyRequest: Sendable {
    /// What a client puts where its credential goes to name a profile: `claude-auth:PROFILE`.
    static let placeholderPrefix = "claude-auth:"

    var method: HTTPMethod
    /// The path and query sent to the upstream, after its base path.
    var target: String
    /// The profile named by a placeholder in `x-api-key` or `Authorization: Bearer`; nil when there is none.
    var profile: String?
    /// The client's headers that go upstream.
    var headers: HTTPHeaders

    /// Reads `head`, whose target the upstream gets as `target`.
    init(head: HTTPRequestHead, target: String) {
        self.method = head.method
        self.target = target
        var profile: String?
        for value in head.headers["x-api-key"] + head.headers["authorization"].compactMap(Self.bearer) where profile == nil {
            if value.hasPrefix(Self.placeholderPrefix) { profile = String(value.dropFirst(Self.placeholderPrefix.count)) }
        }
        self.profile = profile
        let connectionOptions = Set(head.headers["connection"].flatMap { $0.split(separator: ",") }.map { $0.trimmed.lowercased() })
        var headers = HTTPHeaders()
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            guard !Self.removed.contains(lowered), !connectionOptions.contains(lowered) else { continue }
            headers.add(name: name, value: value)
        }
        self.headers = headers
    }

    /// The headers that go upstream: the client's, the credential's own header, and the credential's other headers
    /// (`anthropic-version`, the profile's `headers`) where the client sent none of that name.
    func upstreamHeaders(with credential: ServedCredential) -> HTTPHeaders {
        var headers = self.headers
        for field in credential.headers {
            let lowered = field.name.lowercased()
            if lowered == "authorization" || lowered == "x-api-key" || !headers.contains(name: field.name) {
                headers.add(name: field.name, value: field.value)
            }
        }
        return headers
    }

    /// Headers never forwarded: the client's credentials, HTTP/1.1's hop-by-hop headers, and those the upstream
    /// connection sets itself.
    static let removed: Set<String> = [
        "x-api-key", "authorization", "proxy-authorization", "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "expect",
    ]

    /// Hop-by-hop headers of a response, which do not go back to the client.
    static let hopByHopResponse: Set<String> = ["connection", "keep-alive", "proxy-authenticate", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]

    private static func bearer(_ value: String) -> String? {
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmed
    }
}

extension Substring {
    fileprivate var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
