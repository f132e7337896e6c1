import ClaudeAuthAPI
import Foundation

/// Driving a daemon login through the socket API, as the client and a browser would.
extension Sandbox {
    /// `POST /v1/login` for `profile`: the ticket, or a ``HarnessError`` carrying the daemon's error message.
    func startLogin(_ profile: String) throws -> LoginTicketResponse {
        let answer = try curl(["-X", "POST", "-d", #"{"profile":"\#(profile)"}"#, "http://localhost/v1/login"]).stdout
        if let ticket = try? JSONDecoder.api().decode(LoginTicketResponse.self, from: Data(answer.utf8)) { return ticket }
        throw HarnessError(description: try JSONDecoder.api().decode(ErrorEnvelope.self, from: Data(answer.utf8)).error.message)
    }

    /// `GET /v1/login/ID`, waiting up to 10 s for the login to leave `pending`.
    func loginStatus(_ id: String) throws -> LoginStatusResponse {
        try JSONDecoder.api().decode(LoginStatusResponse.self, from: Data(try curl(["http://localhost/v1/login/\(id)?wait=10"]).stdout.utf8))
    }

    /// The browser's redirect to the daemon's listener with `code` and the login's own state; returns the page.
    func deliverRedirect(_ ticket: LoginTicketResponse, port: Int, code: String) throws -> String {
        let state = queryParameters(ticket.authorizeURL)["state"]!
        return try runCommand(which("curl")!, ["-sS", "http://127.0.0.1:\(port)/callback?code=\(code)&state=\(state)"], environment: [:]).stdout
    }
}
