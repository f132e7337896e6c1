import ClaudeAuthAPI
import ClaudeAuthCore
import NIOHTTP1
import Testing

@testable import ClaudeAuthDaemon

@Suite("the proxy's request rules")
struct ProxyRequestTests {
    func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/messages", headers: HTTPHeaders(headers))
    }

    @Test("the placeholder names the profile in x-api-key or Authorization: Bearer; any other credential names none")
    func placeholder() {
        #expect(ProxyRequest(head: head([("x-api-key", "claude-auth:work")]), target: "/").profile == "work")
        #expect(ProxyRequest(head: head([("Authorization", "Bearer claude-auth:api")]), target: "/").profile == "api")
        #expect(ProxyRequest(head: head([("authorization", "bearer  claude-auth:api ")]), target: "/").profile == "api")
        #expect(ProxyRequest(head: head([("x-api-key", "sk-ant-real")]), target: "/").profile == nil)
        #expect(ProxyRequest(head: head([("Authorization", "Basic claude-auth:api")]), target: "/").profile == nil)
        #expect(ProxyRequest(head: head([]), target: "/").profile == nil)
    }

    @Test("credentials and hop-by-hop headers are dropped, exactly one credential added, the client's own headers win")
    func headers() {
        let request = ProxyRequest(
            head: head([
                ("x-api-key", "claude-auth:work"), ("Authorization", "Bearer other"), ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1"),
                ("Keep-Alive", "5"), ("Transfer-Encoding", "chunked"), ("Host", "127.0.0.1:8787"), ("Content-Length", "10"),
                ("anthropic-version", "2026-10-21"), ("anthropic-beta", "tools-1"), ("content-type", "application/json"),
            ]), target: "/v1/messages")
        let credential = ServedCredential(
            profile: "work", kind: .oauth,
            headers: [
                HeaderField(name: "Authorization", value: "Bearer real"), HeaderField(name: "anthropic-version", value: "2023-06-01"),
                HeaderField(name: "anthropic-beta", value: "oauth-2025-04-20"), HeaderField(name: "x-team", value: "a"),
            ],
            secret: Secret("real"), expiresAt: nil)
        let sent = request.upstreamHeaders(with: credential)
        #expect(sent["authorization"] == ["Bearer real"])
        #expect(sent["x-api-key"].isEmpty)
        #expect(sent["anthropic-version"] == ["2026-10-21"])
        #expect(sent["anthropic-beta"] == ["tools-1"])
        #expect(sent["x-team"] == ["a"])
        #expect(sent["content-type"] == ["application/json"])
        for name in ["connection", "x-hop", "keep-alive", "transfer-encoding", "host", "content-length"] {
            #expect(sent[name].isEmpty, "\(name)")
        }
    }

    @Test("the TCP listener refuses what a browser sends and hosts not its own")
    func browserRefusals() {
        let hosts: Set<String> = ["127.0.0.1:8787", "localhost:8787"]
        func refusal(_ headers: [(String, String)]) -> String? { ProxyListener.refusal(of: head(headers), hosts: hosts) }
        #expect(refusal([("Host", "127.0.0.1:8787")]) == nil)
        #expect(refusal([("Host", "LOCALHOST:8787")]) == nil)
        #expect(refusal([("Host", "127.0.0.1:8787"), ("Origin", "null")]) == "a request with Origin, as a browser sends")
        #expect(refusal([("Host", "127.0.0.1:8787"), ("Sec-Fetch-Site", "cross-site")]) == "a request with Sec-Fetch-Site, as a browser sends")
        #expect(refusal([("Host", "attacker.example:8787")])?.contains("for host attacker.example:8787") == true)
        #expect(refusal([("Host", "127.0.0.1:8788")]) != nil)
        #expect(refusal([]) != nil)
        #expect(refusal([("Host", "127.0.0.1:8787"), ("Host", "evil")]) != nil)
    }

    @Test("the proxy's own errors in the API's shape and status")
    func errors() {
        #expect(ProxyError(ServiceError(code: .loginRequired, message: "log in")).status == .unauthorized)
        #expect(ProxyError(ServiceError(code: .missingAPIKey, message: "m")).type == "authentication_error")
        #expect(ProxyError(ServiceError(code: .tokenEndpointUnavailable, message: "down")).status == .serviceUnavailable)
        let body = String(decoding: ProxyError(status: .badGateway, type: "api_error", message: "a \"quoted\" word").body, as: UTF8.self)
        #expect(body == #"{"error":{"message":"a \"quoted\" word","type":"api_error"},"type":"error"}"# + "\n")
    }
}
