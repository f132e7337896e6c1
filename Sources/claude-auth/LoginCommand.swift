#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

/// `claude-auth login`: asks the daemon for a login (PKCE through a browser, or the device flow), shows the user
/// what to open, and waits for it to finish.
struct LoginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in to an oauth profile: the daemon runs the login; the browser opens on a desktop.",
        discussion: """
            Without a display no browser is started. Over SSH, use --device where the provider offers it, --manual and \
            paste the code or the URL the browser ended on, or forward the redirect port (ssh -L 8089:localhost:8089).
            """
    )

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Print the URL only; do not open a browser.")
    var noBrowser = false

    @Flag(help: "Read the code, code#state, or the redirect URL from stdin, for machines without a browser.")
    var manual = false

    @Flag(help: "Use the device flow: enter the code shown on any device with a browser (RFC 8628).")
    var device = false

    func validate() throws {
        guard !(manual && device) else { throw ValidationError("--manual and --device are two different logins: give one") }
    }

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let client = try options.client(timeout: 40)
            let ticket = try client.startLogin(profile: options.profile, mode: device ? .device : manual ? .manual : nil)
            let environment = options.environment
            let hasDisplay = environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil
            if let userCode = ticket.userCode {
                StandardStream.error("To sign in, open \(ticket.verificationURI ?? ticket.authorizeURL) on any device and enter this code:\n")
                writeOut(userCode + "\n")
                if ticket.authorizeURL != ticket.verificationURI {
                    StandardStream.error("(or open \(ticket.authorizeURL), which carries the code)\n")
                }
            } else {
                StandardStream.error("Open this URL in a browser to sign in:\n")
                writeOut(ticket.authorizeURL + "\n")
                if !hasDisplay, !manual, !noBrowser { StandardStream.error(Self.noDisplayAdvice(ticket)) }
            }
            if !noBrowser, !manual, hasDisplay, !Subprocess.start(["xdg-open", ticket.authorizeURL]) {
                StandardStream.error("(could not start xdg-open: open the URL yourself)\n")
            }
            let outcome: LoginStatusResponse
            if manual {
                StandardStream.error("Then paste the code, or the whole URL your browser ended on, and press Enter:\n")
                guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw .usage("no code was entered") }
                outcome = try client.submitLoginCode(ticket.loginID, line)
            } else {
                let target = ticket.redirectURI.map { " (the browser is sent to \($0))" } ?? ""
                StandardStream.error("Waiting for the sign-in to finish\(target); interrupting this does not stop the login…\n")
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

    /// What a user without a display can do instead: every way that applies to this login.
    private static func noDisplayAdvice(_ ticket: LoginTicketResponse) -> String {
        var ways = ["  claude-auth login --manual   open the URL on any machine, then paste the code or the URL it ended on"]
        if ticket.deviceFlow { ways.insert("  claude-auth login --device   enter a short code on any device with a browser", at: 0) }
        if let port = ticket.redirectURI.flatMap(Self.port) {
            ways.append("  ssh -L \(port):localhost:\(port) THIS-HOST   from the machine with the browser, then open the URL there")
        }
        return "No display here (DISPLAY and WAYLAND_DISPLAY are unset), so no browser was started. This login waits; instead:\n"
            + ways.joined(separator: "\n") + "\n"
    }

    private static func port(of redirectURI: String) -> Int? {
        guard let authority = redirectURI.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first,
            let colon = authority.lastIndex(of: ":")
        else { return nil }
        return Int(authority[authority.index(after: colon)...])
    }
}
