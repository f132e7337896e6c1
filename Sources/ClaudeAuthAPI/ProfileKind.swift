/// The kinds of credential a profile holds (DESIGN §2).
public enum ProfileKind: String, Codable, Sendable, CaseIterable {
    /// A static API key, served as `x-api-key`.
    case apiKey = "api-key"
    /// OAuth 2.0 tokens, served as `Authorization: Bearer`.
    case oauth = "oauth"
}

/// What a profile can do right now, as `status` reports it.
public enum ProfileState: String, Codable, Sendable {
    /// A credential is there and served.
    case ready
    /// No key is configured or stored yet.
    case missingKey = "missing_key"
    /// The profile needs an interactive login.
    case loginRequired = "login_required"
    /// The access token expired and the token endpoint is failing; the daemon keeps retrying.
    case unavailable
    /// The credential source is there but unusable (unreadable file, lax permissions, …).
    case error
}
