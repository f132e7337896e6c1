import Foundation

/// Checks `condition` every `interval` microseconds until it holds or `seconds` have passed; it is checked at
/// least once. Returns whether it held.
@discardableResult
func waitUntil(_ seconds: TimeInterval, every interval: useconds_t = 20_000, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try condition() { return true }
        if Date() > deadline { return false }
        usleep(interval)
    }
}

/// An `[profiles.NAME]` table for an `oauth` profile, with `extra` lines appended.
func oauthProfile(
    _ name: String, clientID: String, authorizeURL: String = "http://127.0.0.1:9/authorize", tokenURL: String,
    scopes: [String]? = nil, redirectPort: Int, extra: String = ""
) -> String {
    """
    [profiles.\(name)]
    kind = "oauth"
    client_id = "\(clientID)"
    authorize_url = "\(authorizeURL)"
    token_url = "\(tokenURL)"
    \(scopes.map { "scopes = [" + $0.map { "\"\($0)\"" }.joined(separator: ", ") + "]" } ?? "")
    redirect_port = \(redirectPort)
    \(extra)

    """
}
