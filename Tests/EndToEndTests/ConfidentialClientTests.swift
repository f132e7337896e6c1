import ClaudeAuthAPI
import Foundation
import Testing

/// Confidential clients: the secret from `client_secret_file` or `$CREDENTIALS_DIRECTORY`, sent by HTTP Basic or in
/// the body, never logged; a secret file others can read is refused.
@Suite("confidential clients")
struct ConfidentialClientTests {
    static let secret = "client-SECRET-canary-77"

    /// A login through the redirect with a code the endpoint accepts; a refused start is a failed login.
    func login(_ sandbox: Sandbox, port: Int) throws -> LoginStatusResponse {
        let ticket: LoginTicketResponse
        do {
            ticket = try sandbox.startLogin("conf")
        } catch let error as HarnessError {
            return LoginStatusResponse(state: .failed, error: error.description)
        }
        _ = try sandbox.deliverRedirect(ticket, port: port, code: "good")
        return try sandbox.loginStatus(ticket.loginID)
    }

    @Test(
        "the secret goes by HTTP Basic or in the body, from a file or from $CREDENTIALS_DIRECTORY",
        arguments: [(viaCredentialsDirectory: false, auth: "basic"), (viaCredentialsDirectory: true, auth: "body")])
    func secretSent(viaCredentialsDirectory: Bool, auth: String) async throws {
        let endpoint = try await FaultyTokenEndpoint { _ in .json(200, #"{"access_token":"at-conf","token_type":"Bearer","expires_in":600}"#) }
        let sandbox = try Sandbox()
        let path = try sandbox.writeFile("client-secret", Self.secret + "\n")
        let port = try freePort()
        try sandbox.writeConfig(
            oauthProfile(
                "conf", clientID: "conf-client", tokenURL: endpoint.url, redirectPort: port,
                extra: "client_auth = \"\(auth)\"\nclient_secret_file = \"\(viaCredentialsDirectory ? "client-secret" : path)\""))
        let daemon = try DaemonProcess(sandbox: sandbox, environment: viaCredentialsDirectory ? ["CREDENTIALS_DIRECTORY": sandbox.root] : [:])
        #expect(try login(sandbox, port: port) == LoginStatusResponse(state: .succeeded))
        let request = try #require(endpoint.requests.first)
        let form = TokenEndpointClientTests.form(request.body)
        if auth == "basic" {
            #expect(request.headers["authorization"] == ["Basic " + Data("conf-client:\(Self.secret)".utf8).base64EncodedString()])
            #expect(form["client_secret"] == nil)
        } else {
            #expect(request.headers["authorization"].isEmpty)
            #expect(form["client_secret"] == Self.secret)
        }
        #expect(form["client_id"] == "conf-client")
        #expect(try sandbox.client(["token", "--profile", "conf"]).stdout == "at-conf\n")
        let status = try sandbox.client(["status", "--json"]).stdout
        daemon.stop()
        await endpoint.stop()
        #expect(!daemon.log().contains(Self.secret))
        #expect(!status.contains(Self.secret))
    }

    @Test("a secret file others can read is refused with what to do, and nothing is sent")
    func laxSecretFile() async throws {
        let endpoint = try await FaultyTokenEndpoint { _ in .json(200, #"{"access_token":"at"}"#) }
        let sandbox = try Sandbox()
        let path = try sandbox.writeFile("client-secret", Self.secret, mode: 0o644)
        let port = try freePort()
        try sandbox.writeConfig(
            oauthProfile("conf", clientID: "c", tokenURL: endpoint.url, redirectPort: port, extra: "client_secret_file = \"\(path)\""))
        let daemon = try DaemonProcess(sandbox: sandbox)
        let outcome = try login(sandbox, port: port)
        #expect(outcome.state == .failed)
        #expect(outcome.error?.contains("\(path) is accessible by group or others") == true)
        #expect(endpoint.requests.isEmpty)
        daemon.stop()
        await endpoint.stop()
        #expect(!daemon.log().contains(Self.secret))
    }

    @Test("an HTTPS token endpoint under a private CA is trusted through ca_file, and only through it")
    func caFile() async throws {
        let sandbox = try Sandbox()
        let (certificate, key) = try sandbox.selfSignedCertificate()
        let endpoint = try await FaultyTokenEndpoint(tls: (certificate, key)) { _ in .json(200, #"{"access_token":"at-tls","token_type":"bearer"}"#) }
        #expect(endpoint.url.hasPrefix("https://"))
        let port = try freePort()
        for trusted in [false, true] {
            try sandbox.writeConfig(
                """
                [profiles.conf]
                kind = "oauth"
                client_id = "c"
                authorize_url = "https://127.0.0.1:9/authorize"
                token_url = "\(endpoint.url)"
                redirect_port = \(port)
                \(trusted ? "ca_file = \"\(certificate)\"" : "")
                """)
            let daemon = try DaemonProcess(sandbox: sandbox)
            let outcome = try login(sandbox, port: port)
            if trusted {
                #expect(outcome == LoginStatusResponse(state: .succeeded))
                #expect(try sandbox.client(["token", "--profile", "conf"]).stdout == "at-tls\n")
            } else {
                #expect(outcome.state == .failed)
                #expect(outcome.error?.contains("cannot reach https://127.0.0.1:\(endpoint.port)") == true, "\(outcome.error ?? "")")
            }
            daemon.stop()
        }
        await endpoint.stop()
    }
}
