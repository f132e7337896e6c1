import ClaudeAuthAPI
import Testing

@testable import ClaudeAuthCore

@Suite("ConfigurationLoader")
struct ConfigurationLoaderTests {
    let loader = ConfigurationLoader(environment: ["HOME": "/home/u"])

    func parse(_ text: String) throws(ConfigurationError) -> Configuration {
        try loader.parse(text, file: "config.toml")
    }

    func error(_ text: String) -> ConfigurationError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("a full configuration")
    func valid() throws {
        let configuration = try parse(
            """
            default_profile = "api"

            [profiles.api]
            kind = "api-key"
            key_env = "ANTHROPIC_API_KEY"

            [profiles.file]
            kind = "api-key"
            key_file = "~/.secrets/key"
            headers = { "anthropic-beta" = "x", "anthropic-version" = "2024-01-01" }

            [profiles."stored.one"]
            kind = "api-key"
            """)
        #expect(configuration.defaultProfile == "api")
        #expect(configuration.profiles["api"]?.credential == .apiKey(.environment("ANTHROPIC_API_KEY")))
        #expect(configuration.profiles["file"]?.credential == .apiKey(.file("/home/u/.secrets/key")))
        #expect(
            configuration.profiles["file"]?.headers == [
                HeaderField(name: "anthropic-beta", value: "x"), HeaderField(name: "anthropic-version", value: "2024-01-01"),
            ])
        #expect(configuration.profiles["stored.one"]?.credential == .apiKey(.stored))
        #expect(configuration.sortedProfiles.map(\.name) == ["api", "file", "stored.one"])
    }

    @Test("an empty document: no profiles, default profile named default, sign-in prompts on")
    func empty() throws {
        let configuration = try parse("")
        #expect(configuration.profiles.isEmpty)
        #expect(configuration.defaultProfile == "default")
        #expect(configuration.signInPrompts)
    }

    @Test("[desktop] sign_in_prompts turns the desktop's sign-in prompts off")
    func desktop() throws {
        #expect(try parse("[desktop]\nsign_in_prompts = false\n").signInPrompts == false)
        #expect(try parse("[desktop]\nsign_in_prompts = true\n").signInPrompts)
        #expect(try parse("[desktop]\n").signInPrompts)
    }

    @Test(
        "every error says where",
        arguments: [
            ("x = \n", 1, "invalid TOML"),
            ("[profiles.a]\nkind = \"api-key\"\n\n  key_envv = \"X\"\n", 4, "unknown key \"key_envv\" in [profiles.a]"),
            ("colour = \"blue\"\n", 1, "unknown key \"colour\" at the top level"),
            ("[profiles.a]\nkind = 3\n", 2, "profiles.a.kind must be a string, not an integer"),
            ("[profiles.a]\nkind = \"api-key\"\nkey_file = true\n", 3, "profiles.a.key_file must be a string, not a boolean"),
            ("[profiles.a]\nkind = \"api-key\"\nkey_env = \"A\"\nkey_file = \"/k\"\n", 4, "set only one of key_env and key_file"),
            ("[profiles.a]\nkind = \"api-key\"\nkey_env = \"\"\n", 3, "key_env must name an environment variable"),
            ("profiles = 1\n", 1, "profiles must be a table, not an integer"),
            ("[profiles]\na = \"x\"\n", 2, "profiles.a must be a table, not a string"),
            ("[profiles.\"bad name!\"]\nkind = \"api-key\"\n", 1, "invalid profile name \"bad name!\""),
            ("[profiles.a]\nkind = \"api-key\"\nheaders = { \"bad header\" = \"v\" }\n", 3, "header \"bad header\" is not a valid"),
            ("[profiles.a]\nkind = \"api-key\"\nheaders = { \"h\" = \"a\\nb\" }\n", 3, "header \"h\" is not a valid"),
            ("[profiles.a]\nkind = \"oauth\"\n", 1, "oauth profile \"a\" needs client_id"),
            ("[desktop]\nsign_in_prompts = \"no\"\n", 2, "desktop.sign_in_prompts must be a boolean, not a string"),
            ("[desktop]\nprompts = false\n", 2, "unknown key \"prompts\" in [desktop]"),
            ("desktop = 1\n", 1, "desktop must be a table, not an integer"),
            (Self.oauth + "fallback = \"nope\"\n", 6, "fallback \"nope\" is not a configured profile"),
            (Self.oauth + "fallback = \"o\"\n", 6, "fallback \"o\" is an oauth profile: a fallback must be an api-key profile"),
            ("[profiles.k]\nkind = \"api-key\"\nfallback = \"k\"\n", 3, "fallback is for oauth profiles"),
            (Self.oauth + "fallback = 1\n", 6, "profiles.o.fallback must be a string, not an integer"),
            ("[profiles.k]\nkind = \"api-key\"\ngit_hosts = \"h\"\n", 3, "profiles.k.git_hosts must be an array of host names"),
            ("[profiles.k]\nkind = \"api-key\"\ngit_hosts = [\"a/b\"]\n", 3, "git_hosts must be an array of host names"),
            ("[profiles.k]\nkind = \"api-key\"\ngit_username = \"a b\"\n", 3, "git_username must be a user name"),
        ])
    func located(text: String, line: Int, message: String) {
        let error = error(text)
        #expect(error?.line == line)
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("config.toml:\(line):") == true)
    }

    /// An oauth profile `o` in five lines, for keys added after it.
    static let oauth = "[profiles.o]\nkind = \"oauth\"\nclient_id = \"c\"\ntoken_url = \"https://a.example/t\"\nauthorize_url = \"https://a.example/a\"\n"

    @Test("fallback names an api-key profile; git_username and git_hosts in either kind")
    func fallbackAndGit() throws {
        let configuration = try parse("""
            [profiles.o]
            kind = "oauth"
            client_id = "c"
            authorize_url = "https://a.example/a"
            token_url = "https://a.example/t"
            fallback = "k"
            git_hosts = ["git.example.com", "Git.Example.org:8443"]
            [profiles.k]
            kind = "api-key"
            git_username = "x-access-token"
            """)
        let oauth = try #require(configuration.profiles["o"])
        #expect(oauth.fallback == "k")
        #expect(oauth.git == GitSettings(username: "oauth2", hosts: ["git.example.com", "Git.Example.org:8443"]))
        #expect(oauth.git.covers("GIT.example.com") && oauth.git.covers("git.example.org:8443"))
        #expect(!oauth.git.covers("git.example.com:22") && !oauth.git.covers("other.example"))
        #expect(configuration.profiles["k"]?.git == GitSettings(username: "x-access-token"))
        #expect(configuration.profiles["k"]?.git.covers("anything") == true)
    }

    @Test("a missing file is an empty configuration; a directory is an error")
    func files() throws {
        #expect(try loader.load(file: "/nonexistent/claude-auth/config.toml") == Configuration())
        #expect(throws: ConfigurationError.self) { try loader.load(file: "/tmp") }
    }
}
