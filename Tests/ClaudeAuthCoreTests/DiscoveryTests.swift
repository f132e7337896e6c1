import ClaudeAuthAPI
import Foundation
import Testing

@testable import ClaudeAuthCore

/// `issuer`, `device_authorization_url` and `login_flow` in the configuration; the issuer's metadata and the device
/// authorization response as untrusted documents; the device flow's polling rules.
@Suite("discovery and the device flow")
struct DiscoveryTests {
    func parse(_ body: String) throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader(environment: ["HOME": "/h"]).parse("[profiles.p]\nkind = \"oauth\"\nclient_id = \"c\"\n" + body, file: "c.toml")
    }

    func settings(_ body: String) throws -> OAuthSettings {
        guard case .oauth(let settings)? = try parse(body).profiles["p"]?.credential else { throw CancellationError() }
        return settings
    }

    @Test("an issuer instead of endpoint URLs; explicit keys kept; login_flow; each mistake located")
    func configuration() throws {
        let discovered = try settings("issuer = \"https://idp.example.com/realms/x\"\nlogin_flow = \"device\"\n")
        #expect(discovered.issuer == "https://idp.example.com/realms/x")
        #expect(discovered.endpoints == OAuthEndpoints())
        #expect(discovered.loginFlow == .device)
        let explicit = try settings("issuer = \"https://i\"\ntoken_url = \"https://i/t\"\ndevice_authorization_url = \"https://i/d\"\n")
        #expect(explicit.endpoints == OAuthEndpoints(token: "https://i/t", deviceAuthorization: "https://i/d"))
        #expect(explicit.loginFlow == .browser)

        for (body, line, message) in [
            ("authorize_url = \"https://i/a\"\n", 1, "needs issuer, or authorize_url and token_url: token_url is missing"),
            ("issuer = \"http://idp.example.com\"\n", 4, "issuer must use https"),
            ("issuer = \"https://i/?tenant=1\"\n", 4, "issuer must not have a query"),
            ("issuer = \"https://i\"\ndevice_authorization_url = \"ftp://i\"\n", 5, "device_authorization_url must be an absolute http(s) URL"),
            ("issuer = \"https://i\"\nlogin_flow = \"tv\"\n", 5, "login_flow must be \"browser\" or \"device\""),
            ("authorize_url = \"https://i/a\"\ntoken_url = \"https://i/t\"\nlogin_flow = \"device\"\n", 6, "login_flow = \"device\" needs device_authorization_url"),
        ] {
            #expect {
                try parse(body)
            } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return error.line == line && error.description.contains(message)
            }
        }
    }

    @Test("endpoints given in the configuration win over the issuer's; the issuer's fill in the rest")
    func filling() {
        let configured = OAuthEndpoints(token: "https://gateway/token", deviceAuthorization: "https://gateway/device")
        let metadata = OAuthEndpoints(authorize: "https://i/a", token: "https://i/t", revocation: "https://i/r", deviceAuthorization: "https://i/d")
        #expect(
            configured.filling(from: metadata)
                == OAuthEndpoints(authorize: "https://i/a", token: "https://gateway/token", revocation: "https://i/r", deviceAuthorization: "https://gateway/device"))
    }

    @Test("the identity follows the issuer, and does not change when the endpoints are filled in")
    func identity() throws {
        var settings = try settings("issuer = \"https://i\"\n")
        let before = settings.identity
        settings.endpoints = OAuthEndpoints(authorize: "https://i/a", token: "https://i/t")
        #expect(settings.identity == before)
        var other = settings
        other.issuer = "https://j"
        #expect(other.identity != before)
    }

    @Test("the documents asked for: OpenID Connect's, then RFC 8414's with the issuer's path after the well-known part")
    func documentURLs() {
        #expect(
            IssuerMetadata.documentURLs(for: "https://idp.example.com/tenant/") == [
                "https://idp.example.com/tenant/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/tenant",
            ])
        #expect(
            IssuerMetadata.documentURLs(for: "http://127.0.0.1:8080") == [
                "http://127.0.0.1:8080/.well-known/openid-configuration", "http://127.0.0.1:8080/.well-known/oauth-authorization-server",
            ])
    }

    static let issuer = "https://idp.example.com/tenant"

    func metadata(_ text: String) -> Result<OAuthEndpoints, IssuerMetadata.Failure> {
        IssuerMetadata.parse(Array(text.utf8), issuer: Self.issuer)
    }

    @Test("metadata: the endpoints it names, a trailing slash forgiven, and what is kept reads back the same")
    func metadataAccepted() throws {
        let endpoints = try metadata(
            #"{"issuer":"https://idp.example.com/tenant/","authorization_endpoint":"https://idp.example.com/a","token_endpoint":"https://idp.example.com/t","#
                + #""revocation_endpoint":"https://idp.example.com/r","device_authorization_endpoint":"https://idp.example.com/d","jwks_uri":7}"#
        ).get()
        #expect(
            endpoints
                == OAuthEndpoints(
                    authorize: "https://idp.example.com/a", token: "https://idp.example.com/t", revocation: "https://idp.example.com/r",
                    deviceAuthorization: "https://idp.example.com/d"))
        let kept = IssuerMetadata.document(endpoints, issuer: Self.issuer)
        #expect(try IssuerMetadata.parse(kept, issuer: Self.issuer).get() == endpoints)
    }

    @Test("metadata refused: another issuer, plain http elsewhere, no token endpoint, wrong types, not JSON, too large")
    func metadataRefused() {
        let huge = #"{"issuer":"https://idp.example.com/tenant","token_endpoint":"https://i/t","x":""# + String(repeating: "a", count: 300_000) + "\"}"
        for (text, message) in [
            (#"{"issuer":"https://evil.example.com","token_endpoint":"https://evil.example.com/t"}"#, "is for the issuer \"https://evil.example.com\""),
            (#"{"issuer":"https://idp.example.com/tenant","token_endpoint":"http://idp.example.com/t"}"#, "token_endpoint \"http://idp.example.com/t\" is not an https URL"),
            (#"{"issuer":"https://idp.example.com/tenant","authorization_endpoint":"https://i/a"}"#, "gives no token_endpoint"),
            (#"{"issuer":"https://idp.example.com/tenant","token_endpoint":["https://i/t"]}"#, "token_endpoint must be a string, not an array"),
            (#"{"token_endpoint":"https://i/t"}"#, "names no issuer"),
            ("<html>", "is not a JSON object"),
            (#"["https://idp.example.com/tenant"]"#, "is not a JSON object"),
            (huge, "larger than 256 KiB"),
        ] {
            guard case .failure(let failure) = metadata(text) else {
                Issue.record("accepted: \(text.prefix(80))")
                continue
            }
            #expect(failure.message.contains(message), "\(failure.message)")
        }
    }

    @Test("a device authorization answer: its fields, the default interval, and each bad field refused")
    func deviceAuthorization() throws {
        let answer = try DeviceAuthorization.parse(
            status: 200, body: Array(#"{"device_code":"d","user_code":"AB-CD","verification_uri":"https://i/device","expires_in":900}"#.utf8)
        ).get()
        #expect(answer.userCode == "AB-CD")
        #expect(answer.verificationURI == "https://i/device")
        #expect(answer.verificationURIComplete == nil)
        #expect(answer.interval == 5)
        #expect(answer.expiresIn == 900)
        for body in [
            #"{"user_code":"AB","verification_uri":"https://i/d","expires_in":9}"#,
            #"{"device_code":"d","user_code":"A\u001b[2J","verification_uri":"https://i/d","expires_in":9}"#,
            #"{"device_code":"d","user_code":"AB","verification_uri":"javascript:alert(1)","expires_in":9}"#,
            #"{"device_code":"d","user_code":"AB","verification_uri":"https://i/d","expires_in":-1}"#,
            #"{"device_code":"d","user_code":"AB","verification_uri":"https://i/d","expires_in":9,"interval":1e300}"#,
            "not json",
        ] {
            guard case .failure(let failure) = DeviceAuthorization.parse(status: 200, body: Array(body.utf8)) else {
                Issue.record("accepted: \(body)")
                continue
            }
            #expect(failure.message.hasPrefix("the device authorization endpoint's answer is invalid"))
        }
        guard case .failure(let refused) = DeviceAuthorization.parse(status: 400, body: Array(#"{"error":"unauthorized_client"}"#.utf8)) else {
            Issue.record("a 400 gave codes")
            return
        }
        #expect(refused.message == "the device authorization endpoint answered 400: unauthorized_client")
        #expect(refused.kind == .permanent)
    }

    @Test("polling: pending keeps the interval, slow_down adds 5 s for good, an unreachable server doubles it up to a minute")
    func polling() {
        var polling = DevicePolling(interval: 5)
        let refusal = { (code: String) in TokenEndpointFailure(kind: .permanent, code: code, message: code) }
        #expect(polling.next(after: refusal("authorization_pending")) == .poll(after: 5))
        #expect(polling.next(after: TokenEndpointFailure(kind: .transient, code: "slow_down", message: "")) == .poll(after: 10))
        #expect(polling.next(after: refusal("authorization_pending")) == .poll(after: 10))
        let unreachable = TokenEndpointFailure(kind: .transient, message: "cannot reach it")
        #expect(polling.next(after: unreachable) == .poll(after: 20))
        #expect(polling.next(after: unreachable) == .poll(after: 40))
        #expect(polling.next(after: unreachable) == .poll(after: 60))
        #expect(polling.next(after: unreachable) == .poll(after: 60))
        #expect(polling.next(after: refusal("access_denied")) == .fail("the sign-in was denied at the authorization server"))
        guard case .fail(let reason) = polling.next(after: refusal("invalid_client")) else {
            Issue.record("invalid_client kept polling")
            return
        }
        #expect(reason.contains("invalid_client"))
    }
}
