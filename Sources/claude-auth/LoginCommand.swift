#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

/// `claude-auth login`: asks the daemon for a PKCE login, opens the browser, and waits for it to finish.
struct LoginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in to an oauth profile: the daemon runs the PKCE login; the browser opens on a desktop.",
        discussion: """
            Over SSH, use --no-browser with a forwarded port (ssh -L 8089:localhost:8089), or --manual and paste the \
            code or the URL the browser ended on.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Print the URL only; do not open a browser.")
    var noBrowser = false

    @Flag(help: "Read the code, code#state, or the redirect URL from stdin, for machines without a browser.")
    var manual = false

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let client = try options.client(timeout: 40)
            let ticket = try client.startLogin(profile: options.profile, mode: manual ? .manual : .browser)
            StandardStream.error("Open this URL in a browser to sign in:\n")
            writeOut(ticket.authorizeURL + "\n")
            let environment = options.environment
            let hasDisplay = environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil
            if !noBrowser, !manual, hasDisplay, !Subprocess.start(["xdg-open", ticket.authorizeURL]) {
                StandardStream.error("(could not start xdg-open: open the URL yourself)\n")
            }
            let outcome: LoginStatusResponse
            if manual {
                StandardStream.error("Then paste the code, or the whole URL your browser ended on, and press Enter:\n")
                guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw .usage("no code was entered") }
                outcome = try client.submitLoginCode(ticket.loginID, line)
            } else {
                StandardStream.error("Waiting for the sign-in to finish (the browser is sent to \(ticket.redirectURI))…\n")
                var status = try client.loginStatus(ticket.loginID, wait: 25)
                while status.state == .pending, Date() < ticket.expiresAt.addingTimeInterval(5) {
                    status = try client.loginStatus(ticket.loginID, wait: 25)
                }
                outcome = status
            }
            switch outcome.state {
            case .succeeded:
                StandardStream.error("Signed in: `claude-auth header\(options.profile.map { " --profile \($0)" } ?? "")` now serves the token.\n")
            case .failed:
                throw ClientError(exitCode: 77, message: "the login failed: \(outcome.error ?? "no reason given")")
            case .pending:
                throw ClientError(exitCode: 75, message: "the login did not finish in time: run `claude-auth login` again")
            }
        }
    }
}
