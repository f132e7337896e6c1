#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `POST /v1/login`: start a login.
public struct LoginRequest: Codable, Sendable, Equatable {
    /// How the user will finish it.
    public enum Mode: String, Codable, Sendable {
        /// The browser is redirected to the daemon's loopback listener.
        case browser
        /// The user pastes the code or the redirect URL (`POST /v1/login/ID/code`).
        case manual
        /// The user enters a code at the verification URI, on any device (RFC 8628).
        case device
    }

    /// The profile; the default profile when absent.
    public var profile: String?
    /// How the user will finish it; the profile's `login_flow` when absent.
    public var mode: Mode?

    /// Creates a request.
    public init(profile: String?, mode: Mode?) {
        self.profile = profile
        self.mode = mode
    }
}

/// The answer to `POST /v1/login` (202).
public struct LoginTicketResponse: Codable, Sendable, Equatable {
    /// The login's identifier, for `/v1/login/ID`.
    public var loginID: String
    /// The URL to open in a browser: the authorization request, or a device login's verification URI (with the
    /// user code in it when the server offers that).
    public var authorizeURL: String
    /// The redirect URI the listener answers, for a browser login.
    public var redirectURI: String?
    /// The code the user enters at ``verificationURI``, for a device login.
    public var userCode: String?
    /// Where a device login's user goes to enter ``userCode``.
    public var verificationURI: String?
    /// Whether the profile offers the device flow (`login --device`).
    public var deviceFlow: Bool
    /// When the login gives up.
    public var expiresAt: Date

    enum CodingKeys: String, CodingKey {
        case loginID = "login_id"
        case authorizeURL = "authorize_url"
        case redirectURI = "redirect_uri"
        case userCode = "user_code"
        case verificationURI = "verification_uri"
        case deviceFlow = "device_flow"
        case expiresAt = "expires_at"
    }

    /// Creates a ticket.
    public init(
        loginID: String, authorizeURL: String, redirectURI: String?, userCode: String? = nil, verificationURI: String? = nil,
        deviceFlow: Bool = false, expiresAt: Date
    ) {
        self.loginID = loginID
        self.authorizeURL = authorizeURL
        self.redirectURI = redirectURI
        self.userCode = userCode
        self.verificationURI = verificationURI
        self.deviceFlow = deviceFlow
        self.expiresAt = expiresAt
    }
}

/// `GET /v1/login/ID` and `POST /v1/login/ID/code`: where a login stands.
public struct LoginStatusResponse: Codable, Sendable, Equatable {
    /// `pending`, `succeeded` or `failed`.
    public enum State: String, Codable, Sendable {
        case pending, succeeded, failed
    }

    /// Where the login stands.
    public var state: State
    /// Why it failed.
    public var error: String?

    /// Creates a login status.
    public init(state: State, error: String? = nil) {
        self.state = state
        self.error = error
    }
}

/// `POST /v1/login/ID/code`: what the user pasted.
public struct LoginCodeRequest: Codable, Sendable, Equatable {
    /// A bare code, `code#state`, or the whole redirect URL.
    public var code: String

    /// Creates a code request.
    public init(code: String) {
        self.code = code
    }
}

/// `POST /v1/logout`.
public struct LogoutResponse: Codable, Sendable, Equatable {
    /// The profile logged out.
    public var profile: String
    /// Whether tokens were revoked at the authorization server.
    public var revoked: Bool
    /// Why revocation failed, when it did; the local logout happened anyway.
    public var revocationError: String?

    enum CodingKeys: String, CodingKey {
        case profile, revoked
        case revocationError = "revocation_error"
    }

    /// Creates a logout answer.
    public init(profile: String, revoked: Bool, revocationError: String?) {
        self.profile = profile
        self.revoked = revoked
        self.revocationError = revocationError
    }
}
