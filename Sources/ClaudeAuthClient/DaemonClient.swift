#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

/// The socket API's operations, as the client uses them.
public struct DaemonClient: Sendable {
    /// The HTTP client under it.
    public var http: UnixSocketHTTPClient

    /// A client of the daemon at `socketPath`.
    public init(socketPath: String, timeout: Int = 30) {
        self.http = UnixSocketHTTPClient(path: socketPath, timeout: timeout)
    }

    /// `GET /v1/header`: the header lines, as the daemon sends them.
    public func headerText(profile: String?) throws(ClientError) -> [UInt8] {
        try ok(http.send("GET", "/v1/header" + query(profile)))
    }

    /// `GET /v1/token`: the bare token or key, with its newline.
    public func tokenText(profile: String?) throws(ClientError) -> [UInt8] {
        try ok(http.send("GET", "/v1/token" + query(profile)))
    }

    /// `GET /v1/credential`: the credential with its expiry, valid at least `minimumValidity` seconds when the
    /// server's tokens live that long; with `gitHost`, only if the profile answers for that host.
    public func credential(profile: String?, minimumValidity: Int? = nil, gitHost: String? = nil) throws(ClientError) -> CredentialResponse {
        try decode(ok(http.send("GET", "/v1/credential" + query(profile, ["min_validity": minimumValidity.map(String.init), "git_host": gitHost]))))
    }

    /// `GET /v1/health`.
    public func health() throws(ClientError) -> HealthResponse {
        try decode(ok(http.send("GET", "/v1/health")))
    }

    /// `GET /v1/status`: the raw JSON and its decoded form.
    public func status() throws(ClientError) -> (json: [UInt8], status: StatusResponse) {
        let body = try ok(http.send("GET", "/v1/status"))
        return (body, try decode(body))
    }

    /// `PUT /v1/key`: stores an API key for a profile.
    public func storeKey(_ key: [UInt8], profile: String?) throws(ClientError) -> StatusResponse.Profile {
        try decode(ok(http.send("PUT", "/v1/key" + query(profile), body: key)))
    }

    /// `POST /v1/login`: starts a login.
    public func startLogin(profile: String?, mode: LoginRequest.Mode?) throws(ClientError) -> LoginTicketResponse {
        try decode(ok(http.send("POST", "/v1/login", body: try json(LoginRequest(profile: profile, mode: mode)), contentType: "application/json"), accepting: 202))
    }

    /// `GET /v1/login/ID?wait=S`: where a login stands, waiting up to `wait` seconds for a change.
    public func loginStatus(_ id: String, wait: Int) throws(ClientError) -> LoginStatusResponse {
        try decode(ok(http.send("GET", "/v1/login/\(id)?wait=\(wait)")))
    }

    /// `POST /v1/login/ID/code`: finishes a manual login.
    public func submitLoginCode(_ id: String, _ code: String) throws(ClientError) -> LoginStatusResponse {
        try decode(ok(http.send("POST", "/v1/login/\(id)/code", body: try json(LoginCodeRequest(code: code)), contentType: "application/json")))
    }

    /// `POST /v1/refresh`: refreshes now, or only while the token is still the one named.
    public func refresh(profile: String?, condition: RefreshRequest) throws(ClientError) -> (json: [UInt8], answer: RefreshResponse) {
        let body = try ok(http.send("POST", "/v1/refresh" + query(profile), body: try json(condition), contentType: "application/json"))
        return (body, try decode(body))
    }

    /// `POST /v1/reload`: the daemon re-reads its configuration.
    public func reload() throws(ClientError) -> StatusResponse {
        try decode(ok(http.send("POST", "/v1/reload")))
    }

    /// `GET /v1/issuer`: the endpoints an issuer's metadata names, read and checked by the daemon.
    public func issuer(_ url: String) throws(ClientError) -> IssuerResponse {
        try decode(ok(http.send("GET", "/v1/issuer" + query(nil, ["url": url]))))
    }

    /// `DELETE /v1/key`: forgets an api-key profile's stored key.
    public func forgetKey(profile: String) throws(ClientError) {
        _ = try ok(http.send("DELETE", "/v1/key" + query(profile)))
    }

    /// `POST /v1/logout`.
    public func logout(profile: String?) throws(ClientError) -> LogoutResponse {
        try decode(ok(http.send("POST", "/v1/logout" + query(profile))))
    }

    private func json(_ value: some Encodable) throws(ClientError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw ClientError(exitCode: 70, message: "cannot encode the request: \(error)")
        }
    }

    /// `?profile=P&name=value…`, percent-encoded, without the parameters that are nil.
    private func query(_ profile: String?, _ parameters: KeyValuePairs<String, String?> = [:]) -> String {
        // No array of the pairs: its element type's metadata would cost the client's start-up a runtime lookup.
        var query = ""
        func add(_ name: String, _ value: String?) {
            guard let value else { return }
            query += (query.isEmpty ? "?" : "&") + name + "=" + Self.percentEncoded(value)
        }
        add("profile", profile)
        for (name, value) in parameters { add(name, value) }
        return query
    }

    private static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
                encoded.append(byte)
            default:
                encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    private func ok(_ reply: HTTPReply, accepting success: Int = 200) throws(ClientError) -> [UInt8] {
        guard reply.status == success else {
            if let envelope = try? JSONDecoder.api().decode(ErrorEnvelope.self, from: Data(reply.body)) {
                throw ClientError(envelope.error)
            }
            throw ClientError(exitCode: 70, message: "claude-authd answered \(reply.status) without an error body")
        }
        return reply.body
    }

    private func decode<T: Decodable>(_ body: [UInt8]) throws(ClientError) -> T {
        do {
            return try JSONDecoder.api().decode(T.self, from: Data(body))
        } catch {
            throw ClientError(exitCode: 70, message: "claude-authd's answer is not the JSON expected: \(error)")
        }
    }
}
