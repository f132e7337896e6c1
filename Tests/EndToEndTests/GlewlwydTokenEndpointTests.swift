import Logging
import AsyncHTTPClient
import ClaudeAuthCore
import Foundation
import Testing

@testable import ClaudeAuthDaemon

/// The daemon's token endpoint client against a real authorization server, glewlwyd, with its quirks:
/// form-only bodies, lowercase `bearer`, `nonce` required with `openid`, and a 400 with an empty body for a
/// replayed refresh token.
@Suite("token endpoint client against glewlwyd")
struct GlewlwydTokenEndpointTests {
    @Test("code exchange with PKCE, refresh with rotation, and a replayed refresh token classified as permanent")
    func exchangeRefreshReplay() async throws {
        let redirectPort = try freePort()
        let server = try GlewlwydServer(redirectPorts: [redirectPort], accessTokenLifetime: 60)
        let settings = OAuthSettings(
            clientID: server.clientID, endpoints: OAuthEndpoints(authorize: server.authorizeURL, token: server.tokenURL),
            scopes: ["openid", "offline_access"], redirectPort: redirectPort)
        let secrets = AuthorizationSecrets()
        let redirectURI = settings.redirectURI(port: redirectPort)
        var components = URLComponents(string: server.authorizeURL)!
        components.queryItems = [
            .init(name: "response_type", value: "code"), .init(name: "client_id", value: settings.clientID),
            .init(name: "redirect_uri", value: redirectURI), .init(name: "scope", value: "openid offline_access"),
            .init(name: "state", value: secrets.state.unredacted), .init(name: "nonce", value: secrets.nonce.unredacted),
            .init(name: "code_challenge", value: secrets.challenge), .init(name: "code_challenge_method", value: "S256"),
        ]
        let landing = try server.signIn(components.url!.absoluteString)
        #expect(landing.hasPrefix(redirectURI + "?"))
        let parameters = queryParameters(landing)
        #expect(parameters["state"] == secrets.state.unredacted)
        let code = try #require(parameters["code"])

        let http = HTTPClient(configuration: .init(redirectConfiguration: .disallow))
        let client = TokenEndpointClient(http: http, stateDirectory: "/nonexistent", logger: Logger(label: "test"))
        let issued = await client.exchange(
            code: code, verifier: secrets.verifier, redirectURI: redirectURI, state: secrets.state, settings: settings, secret: nil)
        let refreshed = try await client.refresh(try #require(try issued.get().refreshToken), settings: settings, secret: nil).get()
        let replayed = await client.refresh(try issued.get().refreshToken!, settings: settings, secret: nil)
        try await http.shutdown()

        let tokens = try issued.get()
        #expect(tokens.expiresAt.map { abs($0.timeIntervalSince(tokens.issuedAt) - 60) < 1 } == true)
        #expect(refreshed.refreshToken != nil)
        #expect(refreshed.refreshToken != tokens.refreshToken)
        #expect(refreshed.accessToken != tokens.accessToken)
        guard case .failure(let failure) = replayed else {
            Issue.record("a replayed refresh token was accepted")
            return
        }
        #expect(failure.kind == .permanent)
        #expect(failure.code == "invalid_grant")
    }
}
