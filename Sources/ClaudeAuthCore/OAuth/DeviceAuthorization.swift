#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A device authorization response (RFC 8628 §3.2), checked field by field.
public struct DeviceAuthorization: Sendable, Equatable {
    /// The code the daemon polls the token endpoint with.
    public var deviceCode: Secret
    /// The code the user types at the verification URI.
    public var userCode: String
    /// Where the user goes.
    public var verificationURI: String
    /// The verification URI with the user code in it, when the server gives one.
    public var verificationURIComplete: String?
    /// How long the codes are valid, in seconds.
    public var expiresIn: Int
    /// The seconds between polls the server asks for; 5 when it does not say.
    public var interval: Int

    /// The largest response body read.
    public static let maximumBodySize = 64 * 1024

    /// Parses the device authorization endpoint's answer.
    public static func parse(status: Int, body: [UInt8]) -> Result<DeviceAuthorization, TokenEndpointFailure> {
        let document = try? JSONDecoder().decode(JSONValue.self, from: Data(body))
        guard (200..<300).contains(status) else {
            let detail = TokenResponseParser.oauthError(document)?.detail ?? " (\(body.count) bytes that are not an OAuth error)"
            let kind: TokenEndpointFailure.Kind = status >= 500 || status == 429 ? .transient : .permanent
            return .failure(TokenEndpointFailure(kind: kind, message: "the device authorization endpoint answered \(status)\(detail)"))
        }
        guard case .object(let fields)? = document else {
            return invalid("it is not a JSON object (\(body.count) bytes)")
        }
        guard case .string(let deviceCode)? = fields["device_code"], isVisible(deviceCode, limit: TokenSet.maximumTokenLength) else {
            return invalid("device_code must be a string of visible characters")
        }
        guard case .string(let userCode)? = fields["user_code"], isVisible(userCode, limit: 64) else {
            return invalid("user_code must be a string of at most 64 visible characters")
        }
        guard case .string(let uri)? = fields["verification_uri"], EndpointURL(uri) != nil else {
            return invalid("verification_uri must be an http(s) URL")
        }
        var complete: String?
        switch fields["verification_uri_complete"] {
        case nil, .null?: break
        case .string(let text)? where EndpointURL(text) != nil: complete = text
        default: return invalid("verification_uri_complete must be an http(s) URL")
        }
        guard let expiresIn = seconds(fields["expires_in"], in: 1...86400) else {
            return invalid("expires_in must be a number of seconds from 1 to 86400")
        }
        var interval = 5
        if let value = fields["interval"], value != .null {
            guard let seconds = seconds(value, in: 1...3600) else { return invalid("interval must be a number of seconds from 1 to 3600") }
            interval = seconds
        }
        return .success(
            DeviceAuthorization(
                deviceCode: Secret(deviceCode), userCode: userCode, verificationURI: uri, verificationURIComplete: complete,
                expiresIn: expiresIn, interval: interval))
    }

    private static func seconds(_ value: JSONValue?, in range: ClosedRange<Int>) -> Int? {
        guard case .number(let number)? = value, number.isFinite, number >= Double(range.lowerBound), number <= Double(range.upperBound) else {
            return nil
        }
        return Int(number.rounded(.up))
    }

    private static func isVisible(_ text: String, limit: Int) -> Bool {
        !text.isEmpty && text.utf8.count <= limit && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    private static func invalid(_ message: String) -> Result<DeviceAuthorization, TokenEndpointFailure> {
        .failure(TokenEndpointFailure(kind: .transient, message: "the device authorization endpoint's answer is invalid: \(message)"))
    }
}

/// When a device login polls the token endpoint again, and when it gives up (RFC 8628 §3.5); the codes' expiry is
/// the login's timeout.
public struct DevicePolling: Sendable, Equatable {
    /// What to do after an answer that carried no tokens.
    public enum Next: Sendable, Equatable {
        /// Poll again after this many seconds.
        case poll(after: Int)
        /// The login has failed.
        case fail(String)
    }

    /// The seconds between polls now.
    public private(set) var interval: Int

    /// Polling at the interval the server asked for.
    public init(interval: Int) {
        self.interval = interval
    }

    /// What follows a poll that failed: `authorization_pending` waits the interval; `slow_down` adds 5 s to it for
    /// every later poll; a failure to reach the server doubles it, up to a minute; `access_denied`, `expired_token`
    /// and every other refusal end the login.
    public mutating func next(after failure: TokenEndpointFailure) -> Next {
        switch failure.code {
        case "authorization_pending":
            return .poll(after: interval)
        case "slow_down":
            interval += 5
            return .poll(after: interval)
        case "access_denied":
            return .fail("the sign-in was denied at the authorization server")
        case "expired_token":
            return .fail("the code expired before the sign-in was approved: run `claude-auth login --device` again")
        case nil where failure.kind == .transient, "temporarily_unavailable", "server_error":
            interval = max(interval, min(interval * 2, 60))
            return .poll(after: interval)
        default:
            return .fail("the token endpoint refused the device code: \(failure.message)")
        }
    }
}
