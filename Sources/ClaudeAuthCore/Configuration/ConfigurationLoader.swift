import ClaudeAuthAPI

/// Reads `config.toml` into a ``Configuration``, rejecting anything it does not understand with the
/// file, line and column of the problem.
public struct ConfigurationLoader: Sendable {
    /// The largest configuration file read.
    static let maximumFileSize = 1 << 20

    /// The environment, for `~` in paths.
    public var environment: [String: String]

    /// Creates a loader.
    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// Loads the file at `path`; a missing file is an empty configuration.
    public func load(file path: String) throws(ConfigurationError) -> Configuration {
        let bytes: [UInt8]
        do {
            guard let read = try FileIO.read(path, limit: Self.maximumFileSize) else { return Configuration() }
            bytes = read
        } catch {
            throw ConfigurationError(file: path, message: "cannot read the configuration: \(error)")
        }
        return try parse(bytes, file: path)
    }

    /// Parses a configuration document; `file` names it in errors.
    public func parse(_ source: String, file: String) throws(ConfigurationError) -> Configuration {
        try parse(Array(source.utf8), file: file)
    }

    /// Parses a configuration file's bytes; `file` names it in errors.
    public func parse(_ bytes: [UInt8], file: String) throws(ConfigurationError) -> Configuration {
        let table: TOMLTable
        do {
            table = try TOMLTable(bytes: bytes)
        } catch {
            throw ConfigurationError(file: file, line: error.position.line, column: error.position.column, message: "invalid TOML: \(error.message)")
        }
        let validator = Validator(file: file, root: table, environment: environment)
        return try validator.applyingOAuthEnvironment(to: validator.configuration(from: table))
    }
}

/// Turns a parsed TOML table into a configuration, one checked key at a time.
private struct Validator {
    let file: String
    let root: TOMLTable
    let environment: [String: String]

    func configuration(from root: TOMLTable) throws(ConfigurationError) -> Configuration {
        try rejectUnknownKeys(in: root, at: [], allowed: ["default_profile", "desktop", "profiles", "proxy"])
        var profiles: [String: Profile] = [:]
        if let value = root["profiles"] {
            let table = try self.table(value, at: ["profiles"])
            for name in table.keys {
                guard let value = table[name] else { continue }
                profiles[name] = try profile(named: name, from: self.table(value, at: ["profiles", name]))
            }
        }
        for profile in profiles.values.sorted(by: { $0.name < $1.name }) {
            guard let fallback = profile.fallback else { continue }
            switch profiles[fallback]?.credential {
            case .apiKey?: break
            case .oauth?:
                throw error(at: ["profiles", profile.name, "fallback"], "fallback \"\(fallback)\" is an oauth profile: a fallback must be an api-key profile")
            case nil:
                throw error(at: ["profiles", profile.name, "fallback"], "fallback \"\(fallback)\" is not a configured profile")
            }
        }
        // Two profiles with one identity would hold one login twice and race each other's refreshes.
        var identities: [CredentialIdentity: String] = [:]
        for profile in profiles.values.sorted(by: { $0.name < $1.name }) {
            guard case .oauth(let settings) = profile.credential else { continue }
            if let other = identities[settings.identity] {
                throw error(
                    at: ["profiles", profile.name],
                    "profiles \"\(other)\" and \"\(profile.name)\" have the same issuer (or token_url), client_id and scopes, so they "
                        + "would share one login: keep one of them")
            }
            identities[settings.identity] = profile.name
        }
        var configuration = Configuration(profiles: profiles)
        if let value = root["default_profile"] {
            let name = try string(value, at: ["default_profile"])
            guard profiles[name] != nil else {
                throw error(at: ["default_profile"], "default_profile \"\(name)\" is not a configured profile")
            }
            configuration.defaultProfile = name
        }
        if let value = root["proxy"] {
            configuration.proxy = try proxy(from: try table(value, at: ["proxy"]), profiles: profiles)
        }
        var sdkProfiles: [String: String] = [:]
        for profile in profiles.values.sorted(by: { $0.name < $1.name }) {
            guard let name = profile.sdkProfile else { continue }
            if let other = sdkProfiles[name] {
                throw error(at: ["profiles", profile.name, "sdk_profile"], "profiles \"\(other)\" and \"\(profile.name)\" both name sdk_profile \"\(name)\": one profile owns its files")
            }
            sdkProfiles[name] = profile.name
        }
        if let value = root["desktop"] {
            let desktop = try table(value, at: ["desktop"])
            try rejectUnknownKeys(in: desktop, at: ["desktop"], allowed: ["sign_in_prompts"])
            if let prompts = desktop["sign_in_prompts"] {
                guard let enabled = prompts.bool else { throw typeError(prompts, at: ["desktop", "sign_in_prompts"], expected: "a boolean") }
                configuration.signInPrompts = enabled
            }
        }
        return configuration
    }

    private func proxy(from table: TOMLTable, profiles: [String: Profile]) throws(ConfigurationError) -> ProxySettings {
        let path = ["proxy"]
        try rejectUnknownKeys(in: table, at: path, allowed: ["listen", "profile", "upstream_timeout"])
        var proxy = ProxySettings()
        if let value = table["listen"] {
            guard let address = LoopbackAddress(try string(value, at: path + ["listen"])) else {
                throw error(at: path + ["listen"], "listen must be a loopback address and port: \"127.0.0.1:8787\", \"[::1]:8787\" or \"localhost:8787\"")
            }
            proxy.listen = address
        }
        if let value = table["profile"] {
            let name = try string(value, at: path + ["profile"])
            guard profiles[name] != nil else { throw error(at: path + ["profile"], "[proxy] profile \"\(name)\" is not a configured profile") }
            proxy.profile = name
        }
        if let value = table["upstream_timeout"] {
            guard let seconds = value.integer.flatMap({ Int(exactly: $0) }), (1...3600).contains(seconds) else {
                throw error(at: path + ["upstream_timeout"], "upstream_timeout must be a number of seconds from 1 to 3600")
            }
            proxy.upstreamTimeout = seconds
        }
        return proxy
    }

    /// `upstream`: an https URL (plain http only to a loopback host) without a query; by default Anthropic's API.
    private func upstream(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> EndpointURL {
        guard let value = table["upstream"] else { return .anthropicAPI }
        guard let url = EndpointURL(try string(value, at: path + ["upstream"])), !url.pathAndQuery.contains("?") else {
            throw error(at: path + ["upstream"], "upstream must be an absolute http(s) URL without user info, query or fragment")
        }
        guard url.isAcceptableForSecrets else {
            throw error(at: path + ["upstream"], "upstream must use https (plain http is allowed only to a loopback host)")
        }
        return url
    }

    /// `remote`: whether the restricted remote socket serves the profile; false unless set.
    private func remote(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> Bool {
        guard let value = table["remote"] else { return false }
        guard let remote = value.bool else { throw typeError(value, at: path + ["remote"], expected: "a boolean") }
        return remote
    }

    /// `sdk_profile`: a name the official SDKs accept for a profile file.
    private func sdkProfile(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> String? {
        guard let value = table["sdk_profile"] else { return nil }
        let name = try string(value, at: path + ["sdk_profile"])
        guard Profile.isValidName(name) else {
            throw error(at: path + ["sdk_profile"], "invalid sdk_profile \"\(name)\": use letters, digits, '.', '_' and '-' (at most 64), not starting with '.' or '-'")
        }
        return name
    }

    private func profile(named name: String, from table: TOMLTable) throws(ConfigurationError) -> Profile {
        let path = ["profiles", name]
        guard Profile.isValidName(name) else {
            throw error(at: path, "invalid profile name \"\(name)\": use letters, digits, '.', '_' and '-' (at most 64)")
        }
        guard let kindValue = table["kind"] else {
            throw error(at: path, "profile \"\(name)\" has no kind: add kind = \"api-key\" or \"oauth\"")
        }
        let kindName = try string(kindValue, at: path + ["kind"])
        guard let kind = ProfileKind(rawValue: kindName) else {
            throw error(at: path + ["kind"], "unknown kind \"\(kindName)\": expected \"api-key\" or \"oauth\"")
        }
        switch kind {
        case .apiKey:
            if table["fallback"] != nil {
                throw error(at: path + ["fallback"], "fallback is for oauth profiles: an api-key profile is always served as it is")
            }
            if table["sdk_profile"] != nil {
                throw error(at: path + ["sdk_profile"], "sdk_profile is for oauth profiles: give the SDK an api-key profile through the proxy instead")
            }
            try rejectUnknownKeys(
                in: table, at: path, allowed: ["kind", "key_env", "key_file", "headers", "git_username", "git_hosts", "upstream", "ca_file", "remote"])
            return Profile(
                name: name, credential: .apiKey(try apiKeySource(in: table, at: path)), headers: try headers(in: table, at: path),
                git: try git(in: table, at: path), upstream: try upstream(in: table, at: path), caFile: try caFile(in: table, at: path),
                remote: try remote(in: table, at: path))
        case .oauth:
            try rejectUnknownKeys(in: table, at: path, allowed: Self.oauthKeys)
            let fallback = try table["fallback"].map { value throws(ConfigurationError) in try string(value, at: path + ["fallback"]) }
            let settings = try oauthSettings(in: table, at: path)
            return Profile(
                name: name, credential: .oauth(settings), headers: try headers(in: table, at: path),
                fallback: fallback, git: try git(in: table, at: path), upstream: try upstream(in: table, at: path), caFile: settings.caFile,
                sdkProfile: try sdkProfile(in: table, at: path), remote: try remote(in: table, at: path))
        }
    }

    private func git(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> GitSettings {
        var git = GitSettings()
        if let value = table["git_username"] {
            let username = try string(value, at: path + ["git_username"])
            guard !username.isEmpty, username.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
                throw error(at: path + ["git_username"], "git_username must be a user name without spaces or control characters")
            }
            git.username = username
        }
        if let value = table["git_hosts"] {
            guard let array = value.array else { throw typeError(value, at: path + ["git_hosts"], expected: "an array of host names") }
            var hosts: [String] = []
            for item in array {
                guard let host = item.string, !host.isEmpty, host.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "/") }) else {
                    throw error(at: path + ["git_hosts"], "git_hosts must be an array of host names (host or host:port, as git names them)")
                }
                hosts.append(host)
            }
            git.hosts = hosts
        }
        return git
    }

    static let oauthKeys: Set<String> = [
        "kind", "client_id", "issuer", "authorize_url", "token_url", "revocation_url", "device_authorization_url", "login_flow",
        "scopes", "redirect_port", "token_request",
        "client_auth", "headers", "authorize_params", "client_secret_file", "ca_file", "login_timeout",
        "min_validity", "token_timeout", "fallback", "git_username", "git_hosts", "upstream", "sdk_profile", "remote",
    ]

    private func oauthSettings(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> OAuthSettings {
        func required(_ key: String) throws(ConfigurationError) -> String {
            guard let value = table[key] else { throw error(at: path, "oauth profile \"\(path[1])\" needs \(key)") }
            let text = try string(value, at: path + [key])
            guard !text.isEmpty else { throw error(at: path + [key], "\(key) must not be empty") }
            return text
        }
        func optional(_ key: String) throws(ConfigurationError) -> String? {
            guard let value = table[key] else { return nil }
            return try string(value, at: path + [key])
        }
        let clientID = try required("client_id")
        var endpoints = OAuthEndpoints()
        for (key, keyPath) in Self.endpointKeys {
            endpoints[keyPath: keyPath] = try optional(key).map { text throws(ConfigurationError) in try endpoint(text, at: path + [key]) }
        }
        let issuer = try optional("issuer").map { text throws(ConfigurationError) in try self.issuer(text, at: path + ["issuer"]) }
        if issuer == nil {
            for (key, value) in [("authorize_url", endpoints.authorize), ("token_url", endpoints.token)] where value == nil {
                throw error(at: path, "oauth profile \"\(path[1])\" needs issuer, or authorize_url and token_url: \(key) is missing")
            }
        }
        var settings = OAuthSettings(clientID: clientID, issuer: issuer, endpoints: endpoints)
        if let name = try optional("login_flow") {
            guard let flow = OAuthSettings.LoginFlow(rawValue: name) else {
                throw error(at: path + ["login_flow"], "login_flow must be \"browser\" or \"device\"")
            }
            guard flow == .browser || issuer != nil || endpoints.deviceAuthorization != nil else {
                throw error(at: path + ["login_flow"], "login_flow = \"device\" needs device_authorization_url, or an issuer whose metadata lists one")
            }
            settings.loginFlow = flow
        }
        if let value = table["scopes"] {
            guard let array = value.array else { throw typeError(value, at: path + ["scopes"], expected: "an array of strings") }
            settings.scopes = []
            for item in array {
                guard let scope = item.string, !scope.isEmpty, !scope.contains(" ") else {
                    throw error(at: path + ["scopes"], "scopes must be an array of non-empty strings without spaces")
                }
                settings.scopes.append(scope)
            }
        }
        if let value = table["redirect_port"] {
            guard let port = value.integer.flatMap({ Int(exactly: $0) }), (0...65535).contains(port) else {
                throw error(at: path + ["redirect_port"], "redirect_port must be an integer from 0 (ephemeral) to 65535")
            }
            settings.redirectPort = port
        }
        func seconds(_ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let value = table[key] else { return nil }
            guard let seconds = value.integer.flatMap({ Int(exactly: $0) }), range.contains(seconds) else {
                throw error(at: path + [key], "\(key) must be a number of seconds from \(range.lowerBound) to \(range.upperBound)")
            }
            return seconds
        }
        settings.loginTimeout = try seconds("login_timeout", 1...3600) ?? settings.loginTimeout
        settings.minimumValidity = try seconds("min_validity", 0...86400) ?? settings.minimumValidity
        settings.tokenTimeout = try seconds("token_timeout", 1...300) ?? settings.tokenTimeout
        if let name = try optional("token_request") {
            guard let encoding = OAuthSettings.TokenRequestEncoding(rawValue: name) else {
                throw error(at: path + ["token_request"], "token_request must be \"form\" or \"json\"")
            }
            settings.tokenRequest = encoding
        }
        if let name = try optional("client_auth") {
            guard let method = OAuthSettings.ClientAuthentication(rawValue: name) else {
                throw error(at: path + ["client_auth"], "client_auth must be \"basic\" or \"body\"")
            }
            settings.clientAuthentication = method
        }
        settings.clientSecretFile = try optional("client_secret_file").map(expandingTilde)
        settings.caFile = try caFile(in: table, at: path)
        if let value = table["authorize_params"] {
            let parameters = try self.table(value, at: path + ["authorize_params"])
            for name in parameters.keys.sorted() {
                guard let value = parameters[name] else { continue }
                settings.authorizeParameters.append(HeaderField(name: name, value: try string(value, at: path + ["authorize_params", name])))
            }
        }
        return settings
    }

    private static var endpointKeys: [(String, WritableKeyPath<OAuthEndpoints, String?>)] {
        [
            ("authorize_url", \.authorize), ("token_url", \.token), ("revocation_url", \.revocation),
            ("device_authorization_url", \.deviceAuthorization),
        ]
    }

    /// An issuer identifier (RFC 8414 §2): an endpoint URL without a query.
    private func issuer(_ text: String, at path: [String]) throws(ConfigurationError) -> String {
        let text = try endpoint(text, at: path)
        guard !text.contains("?") else { throw error(at: path, "issuer must not have a query") }
        return text
    }

    /// An endpoint URL: absolute http(s), and HTTPS unless the host is loopback.
    private func endpoint(_ text: String, at path: [String]) throws(ConfigurationError) -> String {
        guard let url = EndpointURL(text) else {
            throw error(at: path, "\(path.last ?? "the URL") must be an absolute http(s) URL without user info or fragment")
        }
        guard url.isAcceptableForSecrets else {
            throw error(at: path, "\(path.last ?? "the URL") must use https (plain http is allowed only to a loopback host)")
        }
        return text
    }

    /// Applies `CLAUDE_OAUTH_*` from the daemon's environment to the default profile (DESIGN §2): they override
    /// an `oauth` default profile's values, and with client id and both URLs they define one when none is configured.
    func applyingOAuthEnvironment(to configuration: Configuration) throws(ConfigurationError) -> Configuration {
        let names = ["CLAUDE_OAUTH_CLIENT_ID", "CLAUDE_OAUTH_CLIENT_SECRET", "CLAUDE_OAUTH_REDIRECT_URI", "CLAUDE_OAUTH_AUTHORIZE_URL", "CLAUDE_OAUTH_TOKEN_URL"]
        let values = names.reduce(into: [String: String]()) { values, name in
            if let value = environment[name], !value.isEmpty { values[name] = value }
        }
        guard !values.isEmpty else { return configuration }
        let name = configuration.defaultProfile
        var settings: OAuthSettings
        switch configuration.profiles[name]?.credential {
        case .oauth(let configured)?:
            settings = configured
        case nil:
            guard let clientID = values["CLAUDE_OAUTH_CLIENT_ID"], let authorize = values["CLAUDE_OAUTH_AUTHORIZE_URL"],
                let token = values["CLAUDE_OAUTH_TOKEN_URL"]
            else { return configuration }
            settings = OAuthSettings(clientID: clientID, endpoints: OAuthEndpoints(authorize: authorize, token: token))
        case .apiKey?:
            return configuration
        }
        let environmentError = { (message: String) in ConfigurationError(file: file, message: "environment: \(message)") }
        if let clientID = values["CLAUDE_OAUTH_CLIENT_ID"] { settings.clientID = clientID }
        if let secret = values["CLAUDE_OAUTH_CLIENT_SECRET"] { settings.clientSecret = Secret(secret) }
        for (variable, keyPath) in [("CLAUDE_OAUTH_AUTHORIZE_URL", \OAuthSettings.endpoints.authorize), ("CLAUDE_OAUTH_TOKEN_URL", \OAuthSettings.endpoints.token)] {
            guard let text = values[variable] else { continue }
            guard let url = EndpointURL(text), url.isAcceptableForSecrets else {
                throw environmentError("\(variable) must be an https URL (plain http only to a loopback host)")
            }
            settings[keyPath: keyPath] = text
        }
        if let text = values["CLAUDE_OAUTH_REDIRECT_URI"] {
            guard let url = EndpointURL(text), url.scheme == "http", url.isLoopback, let port = url.port,
                !url.pathAndQuery.contains("?")
            else {
                throw environmentError("CLAUDE_OAUTH_REDIRECT_URI must be http://localhost:PORT/PATH (or 127.0.0.1, [::1])")
            }
            settings.redirectHost = url.host
            settings.redirectPort = port
            settings.redirectPath = url.pathAndQuery
        }
        var result = configuration
        var profile = configuration.profiles[name] ?? Profile(name: name, credential: .oauth(settings))
        profile.credential = .oauth(settings)
        result.profiles[name] = profile
        return result
    }

    private func caFile(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> String? {
        guard let value = table["ca_file"] else { return nil }
        let file = try string(value, at: path + ["ca_file"])
        guard !file.isEmpty else { throw error(at: path + ["ca_file"], "ca_file must not be empty") }
        return expandingTilde(file)
    }

    private func apiKeySource(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> APIKeySource {
        switch (table["key_env"], table["key_file"]) {
        case (.some, .some):
            throw error(at: path + ["key_file"], "set only one of key_env and key_file")
        case (.some(let value), nil):
            let name = try string(value, at: path + ["key_env"])
            guard !name.isEmpty, !name.contains("=") else {
                throw error(at: path + ["key_env"], "key_env must name an environment variable")
            }
            return .environment(name)
        case (nil, .some(let value)):
            let file = try string(value, at: path + ["key_file"])
            guard !file.isEmpty else { throw error(at: path + ["key_file"], "key_file must not be empty") }
            return .file(expandingTilde(file))
        case (nil, nil):
            return .stored
        }
    }

    private func headers(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> [HeaderField] {
        guard let value = table["headers"] else { return [] }
        let headers = try self.table(value, at: path + ["headers"])
        var fields: [HeaderField] = []
        for name in headers.keys.sorted() {
            guard let value = headers[name] else { continue }
            let field = HeaderField(name: name, value: try string(value, at: path + ["headers", name]))
            guard field.isValid else {
                throw error(at: path + ["headers", name], "header \"\(name)\" is not a valid HTTP header name and value")
            }
            fields.append(field)
        }
        return fields
    }

    private func rejectUnknownKeys(in table: TOMLTable, at path: [String], allowed: Set<String>) throws(ConfigurationError) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            let expected = allowed.sorted().joined(separator: ", ")
            let place = path.isEmpty ? "at the top level" : "in [\(path.joined(separator: "."))]"
            throw error(at: path + [key], "unknown key \"\(key)\" \(place); expected one of: \(expected)")
        }
    }

    private func table(_ value: TOMLValue, at path: [String]) throws(ConfigurationError) -> TOMLTable {
        guard let table = value.table else { throw typeError(value, at: path, expected: "a table") }
        return table
    }

    private func string(_ value: TOMLValue, at path: [String]) throws(ConfigurationError) -> String {
        guard let string = value.string else { throw typeError(value, at: path, expected: "a string") }
        return string
    }

    func typeError(_ value: TOMLValue, at path: [String], expected: String) -> ConfigurationError {
        error(at: path, "\(path.joined(separator: ".")) must be \(expected), not \(value.typeName)")
    }

    private func error(at path: [String], _ message: String) -> ConfigurationError {
        let position = position(of: path)
        return ConfigurationError(file: file, line: position?.line, column: position?.column, message: message)
    }

    /// Where `path` was defined, else where its closest enclosing table was opened.
    private func position(of path: [String]) -> TOMLPosition? {
        var table = root
        var found: TOMLPosition?
        for key in path {
            guard let position = table.position(of: key) else { return table.position ?? found }
            found = position
            guard let next = table[key]?.table else { break }
            table = next
        }
        return found
    }

    private func expandingTilde(_ path: String) -> String {
        guard path.hasPrefix("~/"), let home = environment["HOME"] else { return path }
        return home + path.dropFirst()
    }
}

extension Profile {
    /// Whether `name` can name a profile: 1–64 of letters, digits, `.`, `_`, `-`, not starting with `.` or `-`.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.utf8.first, first != UInt8(ascii: "."),
            first != UInt8(ascii: "-")
        else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }
}

extension HeaderField {
    /// Whether the name is an RFC 9110 token and the value holds no control characters.
    public var isValid: Bool {
        let separators = Set("()<>@,;:\\\"/[]?={} \t".utf8)
        let nameIsToken = !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !separators.contains($0) }
        return nameIsToken && value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}
