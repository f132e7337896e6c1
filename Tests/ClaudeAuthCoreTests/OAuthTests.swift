import ClaudeAuthAPI
import Foundation
import Testing

@testable import ClaudeAuthCore

@Suite("OAuth configuration")
struct OAuthConfigurationTests {
    static let full = """
        default_profile = "work"
        [profiles.work]
        kind = "oauth"
        client_id = "cli"
        authorize_url = "https://idp.example.com/oauth2/authorize"
        token_url = "https://idp.example.com/oauth2/token"
        revocation_url = "https://idp.example.com/oauth2/revoke"
        scopes = ["openid", "offline_access"]
        redirect_port = 0
        token_request = "json"
        client_auth = "body"
        headers = { "anthropic-beta" = "oauth-2025-04-20" }
        authorize_params = { prompt = "consent" }
        client_secret_file = "~/secret"
        login_timeout = 60
        min_validity = 120
        token_timeout = 5
        """

    func parse(_ text: String, environment: [String: String] = ["HOME": "/h"]) throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader(environment: environment).parse(text, file: "c.toml")
    }

    @Test("every key of an oauth profile")
    func full() throws {
        let profile = try #require(try parse(Self.full).profiles["work"])
        guard case .oauth(let settings) = profile.credential else {
            Issue.record("not an oauth profile")
            return
        }
        #expect(profile.kind == .oauth)
        #expect(settings.clientID == "cli")
        #expect(settings.endpoints.revocation == "https://idp.example.com/oauth2/revoke")
        #expect(settings.scopes == ["openid", "offline_access"])
        #expect(settings.redirectPort == 0)
        #expect(settings.tokenRequest == .json)
        #expect(settings.clientAuthentication == .body)
        #expect(settings.clientSecretFile == "/h/secret")
        #expect(settings.authorizeParameters == [HeaderField(name: "prompt", value: "consent")])
        #expect(settings.loginTimeout == 60)
        #expect(settings.minimumValidity == 120)
        #expect(settings.refreshPolicy.minimumValidity == 120)
        #expect(settings.tokenTimeout == 5)
        #expect(settings.refreshDeadline == 50)
        #expect(profile.headers == [HeaderField(name: "anthropic-beta", value: "oauth-2025-04-20")])
        #expect(settings.redirectURI(port: 8089) == "http://localhost:8089/callback")
    }

    @Test("defaults: port 8089, /callback, form requests, 5-minute logins")
    func defaults() throws {
        let configuration = try parse(
            "[profiles.p]\nkind = \"oauth\"\nclient_id = \"c\"\nauthorize_url = \"http://127.0.0.1:9/a\"\ntoken_url = \"http://localhost/t\"\n")
        guard case .oauth(let settings)? = configuration.profiles["p"]?.credential else {
            Issue.record("not an oauth profile")
            return
        }
        #expect(settings.redirectPort == 8089)
        #expect(settings.redirectPath == "/callback")
        #expect(settings.tokenRequest == .form)
        #expect(settings.loginTimeout == 300)
        #expect(settings.minimumValidity == 60)
        #expect(settings.tokenTimeout == 15)
    }

    @Test(
        "mistakes are located",
        arguments: [
            ("token_url = \"http://idp.example.com/t\"", "token_url must use https (plain http is allowed only to a loopback host)"),
            ("token_url = \"https://user@idp.example.com/t\"", "token_url must be an absolute http(s) URL"),
            ("token_url = \"ftp://idp.example.com/t\"", "token_url must be an absolute http(s) URL"),
            ("token_url = \"https://idp.example.com:99999/t\"", "token_url must be an absolute http(s) URL"),
            ("scopes = \"openid\"", "scopes must be an array of strings, not a string"),
            ("scopes = [\"a b\"]", "scopes must be an array of non-empty strings without spaces"),
            ("redirect_port = 70000", "redirect_port must be an integer from 0 (ephemeral) to 65535"),
            ("token_request = \"xml\"", "token_request must be \"form\" or \"json\""),
            ("client_auth = \"jwt\"", "client_auth must be \"basic\" or \"body\""),
            ("login_timeout = 0", "login_timeout must be a number of seconds from 1 to 3600"),
            ("min_validity = -1", "min_validity must be a number of seconds from 0 to 86400"),
            ("token_timeout = \"15s\"", "token_timeout must be a number of seconds from 1 to 300"),
            ("secret = \"x\"", "unknown key \"secret\" in [profiles.p]"),
        ])
    func mistakes(line: String, message: String) {
        let text = "[profiles.p]\nkind = \"oauth\"\nclient_id = \"c\"\nauthorize_url = \"https://i/a\"\n\(line)\n"
            + (line.hasPrefix("token_url") ? "" : "token_url = \"https://i/t\"\n")
        #expect {
            try parse(text)
        } throws: { error in
            let error = error as! ConfigurationError
            return error.line == 5 && error.description.contains(message)
        }
    }

    @Test("two profiles with one identity would race each other's refreshes: refused, located")
    func sharedIdentity() {
        let profile = { (name: String) in
            "[profiles.\(name)]\nkind = \"oauth\"\nclient_id = \"c\"\nauthorize_url = \"https://i/a\"\ntoken_url = \"https://i/t\"\n"
        }
        #expect {
            try parse(profile("a") + profile("b"))
        } throws: { error in
            let error = error as! ConfigurationError
            return error.line == 6 && error.description.contains("profiles \"a\" and \"b\" have the same issuer (or token_url), client_id and scopes")
        }
    }

    @Test("CLAUDE_OAUTH_* override the default oauth profile, or define one")
    func environment() throws {
        let overridden = try parse(
            Self.full,
            environment: [
                "CLAUDE_OAUTH_CLIENT_ID": "env-client", "CLAUDE_OAUTH_CLIENT_SECRET": "s3cret",
                "CLAUDE_OAUTH_REDIRECT_URI": "http://127.0.0.1:9999/cb", "CLAUDE_OAUTH_TOKEN_URL": "https://other/t",
            ])
        guard case .oauth(let settings)? = overridden.profiles["work"]?.credential else {
            Issue.record("not an oauth profile")
            return
        }
        #expect(settings.clientID == "env-client")
        #expect(settings.clientSecret == Secret("s3cret"))
        #expect(settings.endpoints.token == "https://other/t")
        #expect(settings.endpoints.authorize == "https://idp.example.com/oauth2/authorize")
        #expect(settings.redirectURI(port: settings.redirectPort) == "http://127.0.0.1:9999/cb")

        let defined = try parse(
            "",
            environment: [
                "CLAUDE_OAUTH_CLIENT_ID": "c", "CLAUDE_OAUTH_AUTHORIZE_URL": "https://i/a", "CLAUDE_OAUTH_TOKEN_URL": "https://i/t",
            ])
        #expect(defined.profiles["default"]?.kind == .oauth)
        #expect(try parse("", environment: ["CLAUDE_OAUTH_CLIENT_ID": "c"]).profiles.isEmpty)
        #expect(throws: ConfigurationError.self) {
            try parse(Self.full, environment: ["CLAUDE_OAUTH_REDIRECT_URI": "https://example.com/cb"])
        }
    }

    @Test("the storage identity follows token URL, client and scopes, not their order")
    func identity() {
        let a = OAuthSettings(clientID: "c", endpoints: OAuthEndpoints(authorize: "https://i/a", token: "https://i/t"), scopes: ["b", "a"])
        var b = a
        b.scopes = ["a", "b"]
        #expect(a.identity == b.identity)
        b.clientID = "d"
        #expect(a.identity != b.identity)
    }
}

@Suite("PKCE, state and URLs")
struct PKCETests {
    @Test("RFC 7636 appendix B's example verifier gives its challenge")
    func rfcVector() {
        #expect(
            AuthorizationSecrets.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
                == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test("fresh values: 43 base64url characters each, all different")
    func fresh() {
        let one = AuthorizationSecrets()
        let two = AuthorizationSecrets()
        for value in [one.verifier, one.state, one.nonce] {
            #expect(value.unredacted.count == 43)
            #expect(value.unredacted.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        }
        #expect(Set([one.verifier, one.state, one.nonce, two.verifier, two.state, two.nonce]).count == 6)
        #expect(one.challenge == AuthorizationSecrets.challenge(for: one.verifier.unredacted))
    }

    @Test("constant-time comparison")
    func constantTime() {
        #expect(ConstantTime.equals("abc", "abc"))
        #expect(!ConstantTime.equals("abc", "abd"))
        #expect(!ConstantTime.equals("abc", "abcd"))
        #expect(!ConstantTime.equals("", "a"))
        #expect(ConstantTime.equals("", ""))
    }

    @Test("endpoint URLs: loopback and https rules")
    func urls() throws {
        let local = try #require(EndpointURL("http://[::1]:8080/token?x=1"))
        #expect(local.host == "::1")
        #expect(local.port == 8080)
        #expect(local.pathAndQuery == "/token?x=1")
        #expect(local.isLoopback && local.isAcceptableForSecrets)
        #expect(EndpointURL("http://127.0.0.2/t")?.isAcceptableForSecrets == true)
        #expect(EndpointURL("http://localhost.example.com/t")?.isAcceptableForSecrets == false)
        #expect(EndpointURL("https://idp.example.com")?.pathAndQuery == "/")
        #expect(EndpointURL("https://idp.example.com/a#frag") == nil)
        #expect(EndpointURL("https:///nohost") == nil)
        #expect(EndpointURL("https://a b/") == nil)
    }
}

@Suite("TokenResponseParser")
struct TokenResponseParserTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func parse(_ status: Int, _ body: String, retryAfter: String? = nil) -> Result<TokenSet, TokenEndpointFailure> {
        TokenResponseParser.parse(status: status, body: Array(body.utf8), retryAfter: retryAfter, receivedAt: now)
    }

    @Test("a good response, lowercase bearer, expires_in as a number or a string")
    func good() throws {
        let tokens = try parse(200, #"{"access_token":"at","refresh_token":"rt","expires_in":2,"token_type":"bearer","scope":"openid profile"}"#).get()
        #expect(tokens.accessToken == Secret("at"))
        #expect(tokens.refreshToken == Secret("rt"))
        #expect(tokens.expiresAt == now.addingTimeInterval(2))
        #expect(tokens.scopes == ["openid", "profile"])
        #expect(try parse(200, #"{"access_token":"at","expires_in":"3600","token_type":"Bearer"}"#).get().expiresAt == now.addingTimeInterval(3600))
        #expect(try parse(200, #"{"access_token":"at","refresh_token":""}"#).get().refreshToken == nil)
    }

    @Test(
        "bad successful responses are transient failures that say what was wrong",
        arguments: [
            ("<html><body>Login</body></html>", "HTML, not JSON"),
            ("", "an empty body"),
            (#"{"access_token":"at","expi"#, "malformed or truncated JSON"),
            ("[1,2]", "answered 200 with malformed"),
            (#"{"token_type":"bearer"}"#, "access_token is missing"),
            (#"{"access_token":42}"#, "access_token must be a non-empty string"),
            (#"{"access_token":"a b"}"#, "access_token must be a non-empty string"),
            (#"{"access_token":"at","token_type":"mac"}"#, "token_type \"mac\" is not bearer"),
            (#"{"access_token":"at","expires_in":-5}"#, "expires_in must be a non-negative number"),
            (#"{"access_token":"at","expires_in":true}"#, "expires_in must be a non-negative number, not a boolean"),
            (#"{"access_token":"at","refresh_token":7}"#, "refresh_token must be a string"),
            (#"{"access_token":"at","scope":["a"]}"#, "scope must be a string, not an array"),
        ])
    func badSuccess(body: String, message: String) {
        guard case .failure(let failure) = parse(200, body) else {
            Issue.record("accepted \(body)")
            return
        }
        #expect(failure.kind == .transient)
        #expect(failure.message.contains(message), "\(failure.message)")
        #expect(!failure.message.contains("at\""))
    }

    @Test(
        "absurd lifetimes are refused, in either form, and never trap",
        arguments: [
            #"{"access_token":"at","expires_in":"9223372036854775807"}"#,
            #"{"access_token":"at","expires_in":"99999999999999999999999"}"#,
            #"{"access_token":"at","expires_in":9223372036854775807}"#,
            #"{"access_token":"at","expires_in":1e308}"#,
            #"{"access_token":"at","expires_in":315360001}"#,
        ])
    func absurdLifetime(body: String) {
        guard case .failure(let failure) = parse(200, body) else {
            Issue.record("accepted \(body)")
            return
        }
        #expect(failure.kind == .transient)
        #expect(failure.message.contains("expires_in") && failure.message.contains("refused") || failure.message.contains("non-negative"), "\(failure.message)")
    }

    @Test("ten years is the longest lifetime taken")
    func longestLifetime() throws {
        #expect(try parse(200, #"{"access_token":"at","expires_in":"315360000"}"#).get().expiresAt == now.addingTimeInterval(315_360_000))
    }

    @Test("tokens up to 128 KiB are taken, larger ones refused with their size")
    func tokenSizes() throws {
        let largest = String(repeating: "a", count: TokenSet.maximumTokenLength)
        #expect(try parse(200, #"{"access_token":"\#(largest)","refresh_token":"\#(largest)"}"#).get().accessToken == Secret(largest))
        for (field, body) in [
            ("access_token", #"{"access_token":"\#(largest)b"}"#), ("refresh_token", #"{"access_token":"at","refresh_token":"\#(largest)b"}"#),
        ] {
            guard case .failure(let failure) = parse(200, body) else {
                Issue.record("accepted a \(field) over the limit")
                continue
            }
            #expect(failure.message.contains("\(field) is 131073 bytes"), "\(failure.message)")
        }
    }

    @Test("an error_description is quoted bounded and printable, never with a token the daemon holds")
    func errorDescription() {
        let text = "bad\u{1B}[31m " + String(repeating: "x", count: 300)
        guard case .failure(let failure) = parse(400, #"{"error":"invalid_grant","error_description":"\#(text)"}"#) else {
            Issue.record("accepted an error")
            return
        }
        #expect(!failure.message.contains("\u{1B}"))
        #expect(failure.message.count < 300)
        let held = Secret("rt-0123456789abcdefghij")
        #expect(ServerText.excerpt("refresh token rt-0123456789abcdefghij is revoked", hiding: [held]) == "refresh token [redacted] is revoked")
        #expect(ServerText.excerpt("token 'rt-0123456789abcdef' unknown", hiding: [held]) == "token '[redacted]' unknown")
        #expect(ServerText.excerpt("token=rt-0123456789abcdefghij&x", hiding: [held]) == "token=[redacted]&x")
        #expect(ServerText.excerpt("expired (see docs)", hiding: [held]) == "expired (see docs)")
        #expect(ServerText.excerpt("malformed or truncated JSON", hiding: [Secret("at-truncated")]) == "malformed or truncated JSON")
    }

    @Test("error answers: permanent for dead grants, transient for the server's trouble")
    func errors() {
        func failure(_ status: Int, _ body: String, retryAfter: String? = nil) -> TokenEndpointFailure? {
            if case .failure(let failure) = parse(status, body, retryAfter: retryAfter) { return failure }
            return nil
        }
        #expect(failure(400, #"{"error":"invalid_grant","error_description":"refresh token revoked"}"#)
            == TokenEndpointFailure(kind: .permanent, code: "invalid_grant", message: "the token endpoint answered 400: invalid_grant (refresh token revoked)"))
        #expect(failure(400, "")?.kind == .permanent)
        #expect(failure(400, "")?.code == "invalid_grant")
        #expect(failure(403, #"{"error":"invalid_code"}"#)?.kind == .permanent)
        #expect(failure(400, #"{"error":"temporarily_unavailable"}"#)?.kind == .transient)
        #expect(failure(429, "", retryAfter: "30") == TokenEndpointFailure(kind: .transient, message: "the token endpoint answered 429 with an empty body", retryAfter: 30))
        #expect(failure(503, "<html>down</html>")?.message == "the token endpoint answered 503 with HTML, not JSON (17 bytes)")
        #expect(failure(500, #"{"error":"server_error"}"#)?.kind == .transient)
    }
}

@Suite("PastedCode")
struct PastedCodeTests {
    @Test("a bare code, code#state, and a redirect URL with or without a fragment")
    func forms() {
        #expect(PastedCode.parameters("  abc\n") == ["code": "abc"])
        #expect(PastedCode.parameters("abc#xyz") == ["code": "abc", "state": "xyz"])
        #expect(PastedCode.parameters("http://localhost:8089/callback?code=a%2Fb&state=s#frag") == ["code": "a/b", "state": "s"])
        #expect(PastedCode.parameters("http://localhost/callback?error=access_denied") == ["error": "access_denied"])
    }

    @Test("malformed pastes that once killed the daemon yield no code, and never trap", arguments: ["?#", "x?#", "a?##", "?", "#", "##", "?&&=", "?=%", "?code=%zz", "", " \n "])
    func malformed(text: String) {
        #expect(PastedCode.parameters(text)["code"]?.isEmpty ?? true)
    }
}
