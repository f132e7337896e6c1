import ClaudeAuthAPI
import Foundation
import Testing

/// Logout against an endpoint that records what it is sent.
@Suite("logout")
struct LogoutTests {
    @Test("an expired access token does not stop logout from revoking the refresh token")
    func revokesAfterExpiry() async throws {
        let endpoint = try await FaultyTokenEndpoint { request in
            if request.uri == "/revoke" { return .respond(status: 200, headers: [], body: []) }
            // Refreshing fails for now, so the expired token stays the one held.
            if request.body.contains("grant_type=refresh_token") { return .json(503, #"{"error":"temporarily_unavailable"}"#) }
            return .json(200, #"{"access_token":"at-short","refresh_token":"rt-long","expires_in":0,"token_type":"bearer"}"#)
        }
        let sandbox = try Sandbox()
        let port = try freePort()
        try sandbox.writeConfig(
            oauthProfile(
                "short", clientID: "c", tokenURL: endpoint.url, redirectPort: port,
                extra: "revocation_url = \"http://127.0.0.1:\(endpoint.port)/revoke\""))
        let daemon = try DaemonProcess(sandbox: sandbox)
        let ticket = try sandbox.startLogin("short")
        _ = try sandbox.deliverRedirect(ticket, port: port, code: "c0de")
        #expect(try sandbox.loginStatus(ticket.loginID).state == .succeeded)
        // The access token expired on arrival; the refresh token is still alive at the server.
        let token = try sandbox.client(["token", "--profile", "short"])
        #expect(token.status == 75)
        #expect(token.stderr.contains("the access token expired and cannot be refreshed now"))

        let answer = try sandbox.curl(["-X", "POST", "http://localhost/v1/logout?profile=short"])
        let logout = try JSONDecoder.api().decode(LogoutResponse.self, from: Data(answer.stdout.utf8))
        #expect(logout == LogoutResponse(profile: "short", revoked: true, revocationError: nil))
        let revocation = try #require(endpoint.requests.first { $0.uri == "/revoke" })
        #expect(TokenEndpointClientTests.form(revocation.body) == ["token": "rt-long", "token_type_hint": "refresh_token", "client_id": "c"])
        #expect((try? FileManager.default.contentsOfDirectory(atPath: sandbox.stateDirectory + "/credentials")) == [])
        daemon.stop()
        await endpoint.stop()
    }
}
