import ClaudeAuthAPI
import Foundation
import Testing

/// A glewlwyd with short-lived access tokens and single-use refresh tokens, and a sandbox whose `work` profile
/// logs in there.
final class RefreshFixture {
    let sandbox: Sandbox
    let server: GlewlwydServer
    let redirectPort: Int

    init(lifetime: Int, tokenTimeout: Int) throws {
        sandbox = try Sandbox()
        redirectPort = try freePort()
        server = try GlewlwydServer(redirectPorts: [redirectPort], accessTokenLifetime: lifetime, rotation: true)
        try configure(tokenTimeout: tokenTimeout)
    }

    /// Writes the configuration: the `work` profile with `extra` lines, then the `more` tables.
    func configure(tokenTimeout: Int = 15, extra: String = "", more: String = "") throws {
        try sandbox.writeConfig(
            "default_profile = \"work\"\n" + server.profile("work", redirectPort: redirectPort, extra: "token_timeout = \(tokenTimeout)\n" + extra) + "\n" + more)
    }

    /// Logs in through the daemon, the scripted browser playing the user.
    func logIn() throws {
        let ticket = try sandbox.startLogin("work")
        let landing = try server.signIn(ticket.authorizeURL)
        _ = try runCommand(which("curl")!, ["-sS", "-4", landing], environment: sandbox.environment())
        #expect(try sandbox.loginStatus(ticket.loginID).state == .succeeded)
    }

    func token() throws -> CommandResult {
        try sandbox.client(["token", "--profile", "work"])
    }

    func status() throws -> StatusResponse.Profile {
        let answer = try sandbox.curl(["http://localhost/v1/status"]).stdout
        return try #require(try JSONDecoder.api().decode(StatusResponse.self, from: Data(answer.utf8)).profiles.first { $0.name == "work" })
    }

    /// Asks for the token every 50 ms until `done` holds for the answer, for at most `limit` seconds.
    func poll(for limit: TimeInterval, until done: (CommandResult) throws -> Bool) throws -> CommandResult {
        var result: CommandResult?
        try waitUntil(limit, every: 50_000) {
            result = try token()
            return try done(result!)
        }
        return result!
    }
}
