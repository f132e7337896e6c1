/// The endpoints of an authorization server that the daemon calls.
public struct OAuthEndpoints: Sendable, Equatable {
    /// The authorization endpoint (RFC 6749 §3.1).
    public var authorize: String?
    /// The token endpoint (RFC 6749 §3.2).
    public var token: String?
    /// The revocation endpoint (RFC 7009).
    public var revocation: String?
    /// The device authorization endpoint (RFC 8628 §3.1).
    public var deviceAuthorization: String?

    /// Creates a set of endpoints.
    public init(authorize: String? = nil, token: String? = nil, revocation: String? = nil, deviceAuthorization: String? = nil) {
        self.authorize = authorize
        self.token = token
        self.revocation = revocation
        self.deviceAuthorization = deviceAuthorization
    }

    /// These endpoints, with `other`'s for those not given: explicit keys win over an issuer's metadata.
    public func filling(from other: OAuthEndpoints) -> OAuthEndpoints {
        OAuthEndpoints(
            authorize: authorize ?? other.authorize, token: token ?? other.token, revocation: revocation ?? other.revocation,
            deviceAuthorization: deviceAuthorization ?? other.deviceAuthorization)
    }
}
