import Logging
import AsyncHTTPClient
import ClaudeAuthCore
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import ClaudeAuthDaemon

/// What the daemon sends to a token endpoint, and how it copes with bad answers.
@Suite("TokenEndpointClient against a misbehaving endpoint")
struct TokenEndpointClientTests {
    static let good = #"{"access_token":"at-1","refresh_token":"rt-1","expires_in":60,"token_type":"bearer"}"#

    func withEndpoint(
        _ answer: @escaping @Sendable (FaultyTokenEndpoint.Received) -> FaultyTokenEndpoint.Answer,
        _ body: (TokenEndpointClient, FaultyTokenEndpoint) async throws -> Void
    ) async throws {
        let endpoint = try await FaultyTokenEndpoint(answer: answer)
        let http = HTTPClient(configuration: .init(redirectConfiguration: .disallow))
        do {
            try await body(TokenEndpointClient(http: http, stateDirectory: "/nonexistent", logger: Logger(label: "test")), endpoint)
        } catch {
            await endpoint.stop()
            try await http.shutdown()
            throw error
        }
        await endpoint.stop()
        try await http.shutdown()
    }

    func settings(_ endpoint: FaultyTokenEndpoint, encoding: OAuthSettings.TokenRequestEncoding = .form) -> OAuthSettings {
        OAuthSettings(
            clientID: "my client", endpoints: OAuthEndpoints(authorize: "http://127.0.0.1/authorize", token: endpoint.url, revocation: "http://127.0.0.1:\(endpoint.port)/revoke"), tokenRequest: encoding)
    }

    static func form(_ body: String) -> [String: String] {
        Dictionary(
            body.split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1).map { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding! }
                return (parts[0], parts.count > 1 ? parts[1] : "")
            }) { $1 }
    }

    @Test("the code exchange: a form with the exact redirect_uri, the verifier, client_id; the secret by HTTP Basic")
    func exchangeForm() async throws {
        try await withEndpoint({ _ in .json(200, Self.good) }) { client, endpoint in
            let secrets = AuthorizationSecrets()
            let tokens = try await client.exchange(
                code: "the code", verifier: secrets.verifier, redirectURI: "http://localhost:8089/callback", state: secrets.state,
                settings: settings(endpoint), secret: Secret("s&cret")
            ).get()
            #expect(tokens.accessToken == Secret("at-1"))
            let request = try #require(endpoint.requests.first)
            #expect(request.method == .POST)
            #expect(request.headers["content-type"] == ["application/x-www-form-urlencoded"])
            #expect(
                Self.form(request.body) == [
                    "grant_type": "authorization_code", "code": "the code", "redirect_uri": "http://localhost:8089/callback",
                    "code_verifier": secrets.verifier.unredacted, "state": secrets.state.unredacted, "client_id": "my client",
                ])
            let basic = try #require(request.headers["authorization"].first)
            #expect(basic == "Basic " + Data("my+client:s%26cret".utf8).base64EncodedString())
        }
    }

    @Test("JSON bodies, and the secret in the body when the profile says so; a refresh sends no scope")
    func refreshJSON() async throws {
        try await withEndpoint({ _ in .json(200, Self.good) }) { client, endpoint in
            var settings = settings(endpoint, encoding: .json)
            settings.clientAuthentication = .body
            settings.scopes = ["openid"]
            _ = try await client.refresh(Secret("rt-0"), settings: settings, secret: Secret("sec")).get()
            let request = try #require(endpoint.requests.first)
            #expect(request.headers["content-type"] == ["application/json"])
            #expect(request.headers["authorization"].isEmpty)
            let fields = try JSONDecoder().decode([String: String].self, from: Data(request.body.utf8))
            #expect(fields == ["grant_type": "refresh_token", "refresh_token": "rt-0", "client_id": "my client", "client_secret": "sec"])
        }
    }

    @Test("an endpoint that never answers times out as a transient failure")
    func hanging() async throws {
        try await withEndpoint({ _ in .hang }) { client, endpoint in
            var settings = settings(endpoint)
            settings.tokenTimeout = 1
            let result = await client.exchange(
                code: "c", verifier: Secret("v"), redirectURI: "http://localhost/cb", state: Secret("s"), settings: settings, secret: nil)
            guard case .failure(let failure) = result else {
                Issue.record("a hanging endpoint gave tokens")
                return
            }
            #expect(failure.kind == .transient)
            #expect(failure.message == "cannot reach http://127.0.0.1:\(endpoint.port): no answer in time")
        }
    }

    @Test("a huge answer is refused without reading it all")
    func huge() async throws {
        let huge = [UInt8](repeating: UInt8(ascii: "a"), count: 3 << 20)
        try await withEndpoint({ _ in .respond(status: 200, headers: [], body: huge) }) { client, endpoint in
            guard case .failure(let failure) = await client.refresh(Secret("rt"), settings: settings(endpoint), secret: nil) else {
                Issue.record("accepted a huge answer")
                return
            }
            #expect(failure.message.contains("larger than 1048576 bytes"))
        }
    }

    @Test("HTML, and 400 with an empty body, as glewlwyd sends for a dead refresh token")
    func badAnswers() async throws {
        try await withEndpoint({ request in
            request.body.contains("dead") ? .respond(status: 400, headers: [], body: []) : .respond(status: 200, headers: [], body: Array("<html>hi</html>".utf8))
        }) { client, endpoint in
            guard case .failure(let html) = await client.refresh(Secret("rt"), settings: settings(endpoint), secret: nil) else {
                Issue.record("accepted HTML")
                return
            }
            #expect(html.kind == .transient)
            #expect(html.message.contains("HTML, not JSON"))
            guard case .failure(let dead) = await client.refresh(Secret("dead"), settings: settings(endpoint), secret: nil) else {
                Issue.record("accepted a 400")
                return
            }
            #expect(dead.kind == .permanent)
            #expect(dead.code == "invalid_grant")
        }
    }

    @Test("a closed port is a transient failure naming only the origin")
    func refused() async throws {
        let http = HTTPClient(configuration: .init(redirectConfiguration: .disallow))
        // async-http-client retries a refused connection until the deadline: keep it short.
        let client = TokenEndpointClient(http: http, stateDirectory: "/nonexistent", logger: Logger(label: "test"))
        let settings = OAuthSettings(
            clientID: "c", endpoints: OAuthEndpoints(authorize: "http://127.0.0.1:1/a", token: "http://127.0.0.1:1/token?secret=x"), tokenTimeout: 1)
        let result = await client.exchange(
            code: "c", verifier: Secret("v"), redirectURI: "http://localhost/cb", state: Secret("s"), settings: settings, secret: nil)
        try await http.shutdown()
        guard case .failure(let failure) = result else {
            Issue.record("a closed port gave tokens")
            return
        }
        #expect(failure.kind == .transient)
        #expect(failure.message.hasPrefix("cannot reach http://127.0.0.1:1:"))
        #expect(!failure.message.contains("secret=x"))
    }

    @Test("revocation posts the token with its type hint")
    func revoke() async throws {
        try await withEndpoint({ _ in .respond(status: 200, headers: [], body: []) }) { client, endpoint in
            try await client.revoke(Secret("rt-9"), hint: "refresh_token", settings: settings(endpoint), secret: nil).get()
            let request = try #require(endpoint.requests.first)
            #expect(request.uri == "/revoke")
            #expect(Self.form(request.body) == ["token": "rt-9", "token_type_hint": "refresh_token", "client_id": "my client"])
        }
    }
}
