import ClaudeAuthAPI
import Testing

@testable import ClaudeAuthCore

@Suite("the proxy's configuration: [proxy], upstream, ca_file, sdk_profile")
struct ProxyConfigurationTests {
    let loader = ConfigurationLoader(environment: ["HOME": "/home/u"])

    static let oauth = """
        [profiles.work]
        kind = "oauth"
        client_id = "c"
        authorize_url = "https://idp.example/authorize"
        token_url = "https://idp.example/token"

        """

    func parse(_ text: String) throws(ConfigurationError) -> Configuration {
        try loader.parse(text, file: "config.toml")
    }

    func error(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("defaults: no TCP listener, the default profile, Anthropic's API upstream, ten minutes for an answer")
    func defaults() throws {
        let configuration = try parse("[profiles.default]\nkind = \"api-key\"\n")
        #expect(configuration.proxy == ProxySettings())
        #expect(configuration.proxy.listen == nil && configuration.proxy.upstreamTimeout == 600)
        #expect(configuration.proxyProfile == "default")
        #expect(configuration.profiles["default"]?.upstream.baseURL == "https://api.anthropic.com")
    }

    @Test("a full [proxy] and per-profile upstreams, a gateway's base path kept, ca_file on both kinds")
    func full() throws {
        let configuration = try parse(
            """
            [proxy]
            listen = "localhost:8787"
            profile = "api"
            upstream_timeout = 30

            [profiles.api]
            kind = "api-key"
            upstream = "http://127.0.0.1:9000"
            ca_file = "~/ca.pem"

            \(Self.oauth)upstream = "https://gateway.example/anthropic/"
            ca_file = "/etc/ca.pem"
            sdk_profile = "work"
            """)
        #expect(configuration.proxy.listen == LoopbackAddress("127.0.0.1:8787"))
        #expect(configuration.proxy.listen?.description == "127.0.0.1:8787")
        #expect(configuration.proxyProfile == "api")
        #expect(configuration.proxy.upstreamTimeout == 30)
        #expect(configuration.profiles["api"]?.upstream.baseURL == "http://127.0.0.1:9000")
        #expect(configuration.profiles["api"]?.caFile == "/home/u/ca.pem")
        let work = try #require(configuration.profiles["work"])
        #expect(work.upstream.baseURL == "https://gateway.example/anthropic")
        #expect(work.caFile == "/etc/ca.pem")
        guard case .oauth(let settings) = work.credential else { throw ConfigurationError(file: "", message: "not oauth") }
        #expect(settings.caFile == "/etc/ca.pem")
        #expect(work.sdkProfile == "work")
    }

    @Test("remote = true marks a profile of either kind for the remote socket; anything but a boolean is refused")
    func remote() throws {
        let configuration = try parse("[profiles.a]\nkind = \"api-key\"\nremote = true\n[profiles.b]\nkind = \"api-key\"\n" + Self.oauth + "remote = true\n")
        #expect(configuration.profiles["a"]?.remote == true && configuration.profiles["b"]?.remote == false && configuration.profiles["work"]?.remote == true)
        #expect(configuration.servesRemotely)
        #expect(try !parse("[profiles.b]\nkind = \"api-key\"\n").servesRemotely)
        #expect(error("[profiles.a]\nkind = \"api-key\"\nremote = \"yes\"\n")?.contains("profiles.a.remote must be a boolean") == true)
    }

    @Test("listen takes loopback addresses only", arguments: [
        ("0.0.0.0:8787", false), ("192.168.1.2:8787", false), ("example.com:80", false), ("127.0.0.1", false), ("127.0.0.1:65536", false),
        ("[::]:8787", false), ("127.0.0.1:8787", true), ("127.1.2.3:0", true), ("[::1]:8787", true), ("localhost:1", true),
    ])
    func listen(text: String, accepted: Bool) {
        let message = error("[proxy]\nlisten = \"\(text)\"\n")
        #expect((message == nil) == accepted, "\(text): \(message ?? "accepted")")
        if !accepted { #expect(message?.contains("listen must be a loopback address and port") == true) }
    }

    @Test("refused, each with its line: a plain-http upstream off loopback, a query, an unknown proxy profile, a timeout out of range")
    func refusals() {
        let cases: [(String, String)] = [
            ("[profiles.a]\nkind = \"api-key\"\nupstream = \"http://api.example.com\"\n", "config.toml:3:1: upstream must use https"),
            ("[profiles.a]\nkind = \"api-key\"\nupstream = \"https://api.example.com/?x=1\"\n", "without user info, query or fragment"),
            ("[profiles.a]\nkind = \"api-key\"\nupstream = \"ftp://api.example.com\"\n", "upstream must be an absolute http(s) URL"),
            ("[proxy]\nprofile = \"nope\"\n", "[proxy] profile \"nope\" is not a configured profile"),
            ("[proxy]\nupstream_timeout = 0\n", "upstream_timeout must be a number of seconds from 1 to 3600"),
            ("[proxy]\nport = 1\n", "unknown key \"port\" in [proxy]"),
            ("[profiles.a]\nkind = \"api-key\"\nsdk_profile = \"a\"\n", "sdk_profile is for oauth profiles"),
            (Self.oauth + "sdk_profile = \"../x\"\n", "invalid sdk_profile \"../x\""),
            (Self.oauth + "sdk_profile = \".hidden\"\n", "invalid sdk_profile"),
            (Self.oauth + "sdk_profile = \"w\"\n" + Self.oauth.replacingOccurrences(of: "work", with: "other").replacingOccurrences(of: "c\"", with: "d\"") + "sdk_profile = \"w\"\n",
             "profiles \"other\" and \"work\" both name sdk_profile \"w\""),
            ("[profiles.a]\nkind = \"api-key\"\nca_file = \"\"\n", "ca_file must not be empty"),
        ]
        for (text, expected) in cases {
            let message = error(text)
            #expect(message?.contains(expected) == true, "\(text)\n→ \(message ?? "accepted")")
        }
    }
}
