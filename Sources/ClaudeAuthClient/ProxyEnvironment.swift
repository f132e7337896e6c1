import ClaudeAuthAPI

/// The environment `claude-auth exec` gives a command: the SDKs' base URL pointing at the daemon's proxy and a
/// placeholder naming the profile, so the command holds no credential.
public enum ProxyEnvironment {
    /// The variables the official SDKs and Claude Code read a credential from, removed from the child's environment.
    static let credentialVariables = ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"]

    /// `environment` for a child reaching the proxy at `listen` (`127.0.0.1:8787`) as `profile`.
    public static func child(of environment: [String: String], listen: String, profile: String) -> [String: String] {
        var child = environment
        for name in credentialVariables { child.removeValue(forKey: name) }
        child["ANTHROPIC_BASE_URL"] = "http://\(listen)"
        child["ANTHROPIC_API_KEY"] = "claude-auth:\(profile)"
        return child
    }

    /// The proxy's address and the profile to name, from the daemon's status; a clear error without a TCP listener
    /// or for a profile that is not configured.
    public static func target(in status: StatusResponse, profile: String?) throws(ClientError) -> (listen: String, profile: String) {
        guard let proxy = status.proxy, let listen = proxy.listen else {
            throw ClientError(
                exitCode: 78,
                message: "the daemon's proxy has no TCP listener: add `[proxy]` with `listen = \"127.0.0.1:8787\"` to "
                    + "\(status.config.path) and restart claude-authd (or `systemctl --user enable --now claude-authd-proxy.socket`)")
        }
        let name = profile ?? proxy.profile
        guard status.profiles.contains(where: { $0.name == name }) else {
            let known = status.profiles.map(\.name).joined(separator: ", ")
            throw ClientError(exitCode: 78, message: "no profile named \"\(name)\" in \(status.config.path)" + (known.isEmpty ? "" : "; configured: \(known)"))
        }
        return (listen, name)
    }
}
