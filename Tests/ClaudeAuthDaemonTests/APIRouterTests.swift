import AsyncHTTPClient
import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import Logging
import NIOHTTP1
import Testing

@testable import ClaudeAuthDaemon

/// The router and the credential service in process, without sockets.
@Suite("APIRouter")
struct APIRouterTests {
    let state = "/tmp/ca-router-" + UUID().uuidString.prefix(8)

    func router(_ configuration: Configuration, environment: [String: String] = ["KEY": "sk-test"]) -> APIRouter {
        let tokenEndpoint = TokenEndpointClient(http: .shared, stateDirectory: state, logger: Logger(label: "test"))
        let sessions = OAuthSessions(
            store: CredentialStore(stateDirectory: state), environment: environment,
            dependencies: .init(refresh: tokenEndpoint.refresh), logger: Logger(label: "test"), changed: {})
        let credentials = CredentialService(
            configuration: configuration, configPath: state + "/config.toml", environment: environment,
            stateDirectory: state, sessions: sessions, logger: Logger(label: "test"))
        let logins = LoginManager(tokenEndpoint: tokenEndpoint, limits: ServerLimits(), logger: Logger(label: "test")) {
            profile, settings, tokens throws(ServiceError) in
            try await sessions.install(tokens, profile: profile, settings: settings)
        }
        return APIRouter(credentials: credentials, logins: logins, tokenEndpoint: tokenEndpoint, reload: credentials.reload)
    }

    func get(_ router: APIRouter, _ target: String, method: HTTPMethod = .GET, body: String = "") async throws -> APIResponse {
        await router.respond(to: try APIRequest(method: method, target: target, body: Array(body.utf8)))
    }

    func text(_ response: APIResponse) -> String {
        String(decoding: response.body, as: UTF8.self)
    }

    let configuration = Configuration(
        defaultProfile: "api",
        profiles: [
            "api": Profile(name: "api", credential: .apiKey(.environment("KEY"))),
            "stored": Profile(name: "stored", credential: .apiKey(.stored)),
        ])

    @Test("health, header, headers and token")
    func serving() async throws {
        let router = router(configuration)
        #expect(text(try await get(router, "/v1/health")) == "{\"status\":\"ok\",\"version\":\"\(claudeAuthVersion)\"}\n")
        let header = try await get(router, "/v1/header")
        #expect(header.status == .ok)
        #expect(header.contentType.hasPrefix("text/plain"))
        #expect(text(header) == "x-api-key: sk-test\nanthropic-version: 2023-06-01\n")
        #expect(text(try await get(router, "/v1/token?profile=api")) == "sk-test\n")
        let headers = try JSONDecoder.api().decode(HeadersResponse.self, from: Data(try await get(router, "/v1/headers?profile=api").body))
        #expect(headers.fingerprint == Secret("sk-test").fingerprint)
    }

    @Test("errors: unknown profile, missing key, wrong method, unknown path, login not yet supported")
    func errors() async throws {
        let router = router(configuration)
        func code(_ response: APIResponse) throws -> ErrorCode {
            try JSONDecoder.api().decode(ErrorEnvelope.self, from: Data(response.body)).error.code
        }
        let unknown = try await get(router, "/v1/token?profile=nope")
        #expect(unknown.status == .notFound)
        #expect(try code(unknown) == .unknownProfile)
        #expect(try code(try await get(router, "/v1/token?profile=stored")) == .missingAPIKey)
        #expect(try code(try await get(router, "/v1/token", method: .POST)) == .invalidRequest)
        #expect(try code(try await get(router, "/v1/nothing")) == .notFound)
        #expect(try code(try await get(router, "/v1/login", method: .POST)) == .invalidRequest)
        #expect(throws: ServiceError.self) { try APIRequest(method: .GET, target: "/v1/token?profile=%4") }
    }

    @Test("PUT /v1/key stores a key and serves it at once; a bad key is refused")
    func storeKey() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        let router = router(configuration)
        let stored = try await get(router, "/v1/key?profile=stored", method: .PUT, body: "sk-stored\n")
        #expect(stored.status == .ok)
        #expect(text(try await get(router, "/v1/token?profile=stored")) == "sk-stored\n")
        #expect(try await get(router, "/v1/key?profile=stored", method: .PUT, body: "two words").status == .badRequest)
        #expect(try await get(router, "/v1/key?profile=api", method: .PUT, body: "sk-x").status == .badRequest)
        #expect(text(try await get(router, "/v1/token?profile=stored")) == "sk-stored\n")
    }

    @Test("no default profile configured: missing_api_key with what to do")
    func noDefault() async throws {
        let response = try await get(router(Configuration()), "/v1/header")
        #expect(response.status == .notFound)
        #expect(text(response).contains("missing_api_key"))
        #expect(text(response).contains("ANTHROPIC_API_KEY"))
    }

    @Test("reload: a bad file is refused and the configuration in force kept")
    func reload() async throws {
        defer { try? FileManager.default.removeItem(atPath: state) }
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let router = router(configuration)
        try "[profiles.api\n".write(toFile: state + "/config.toml", atomically: true, encoding: .utf8)
        let refused = try await get(router, "/v1/reload", method: .POST)
        #expect(refused.status == .badRequest)
        #expect(text(refused).contains("invalid_config"))
        #expect(text(try await get(router, "/v1/token")) == "sk-test\n")
        try "[profiles.other]\nkind = \"api-key\"\nkey_env = \"KEY\"\n".write(toFile: state + "/config.toml", atomically: true, encoding: .utf8)
        #expect(try await get(router, "/v1/reload", method: .POST).status == .ok)
        #expect(text(try await get(router, "/v1/token?profile=other")) == "sk-test\n")
        #expect(try await get(router, "/v1/token?profile=api").status == .notFound)
    }
}
