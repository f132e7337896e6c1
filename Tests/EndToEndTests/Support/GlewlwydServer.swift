import Foundation

/// A private glewlwyd authorization server on loopback, started by `Tests/Servers/glewlwyd/start`.
final class GlewlwydServer {
    let workdir: String
    let issuer: String
    let authorizeURL: String
    let tokenURL: String
    let userinfoURL: String
    let clientID: String

    static var scripts: String { Binaries.repositoryRoot + "/Tests/Servers/glewlwyd" }

    /// Starts a server that accepts the given loopback redirect ports.
    init(redirectPorts: [Int], accessTokenLifetime: Int = 3600, rotation: Bool = true) throws {
        guard which("glewlwyd") != nil else {
            throw HarnessError(description: "glewlwyd is not installed (.ci/run installs it: apt-get install glewlwyd)")
        }
        workdir = "/tmp/ca-glew-" + UUID().uuidString.prefix(8)
        let arguments = [workdir, String(try freePort())]
            + redirectPorts.flatMap { ["--redirect-port", String($0)] }
            + ["--access-token-lifetime", String(accessTokenLifetime), "--refresh-token-rotation", rotation ? "on" : "off"]
        let result = try runCommand(Self.scripts + "/start", arguments, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 120)
        guard result.status == 0 else { throw HarnessError(description: "glewlwyd did not start: \(result.stderr)") }
        var values: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        issuer = values["ISSUER"] ?? ""
        authorizeURL = values["AUTHORIZE_URL"] ?? ""
        tokenURL = values["TOKEN_URL"] ?? ""
        userinfoURL = values["USERINFO_URL"] ?? ""
        clientID = values["CLIENT_ID"] ?? ""
    }

    deinit {
        _ = try? runCommand(Self.scripts + "/stop", [workdir], environment: ["PATH": "/usr/bin:/bin"], timeout: 30)
        try? FileManager.default.removeItem(atPath: workdir)
    }

    /// A `[profiles.NAME]` table for this server's public client, with `extra` lines appended.
    func profile(_ name: String, scopes: [String] = ["openid", "offline_access"], redirectPort: Int, extra: String = "") -> String {
        oauthProfile(
            name, clientID: clientID, authorizeURL: authorizeURL, tokenURL: tokenURL, scopes: scopes, redirectPort: redirectPort, extra: extra)
    }

    /// A `[profiles.NAME]` table that names only this server's issuer, for discovery, with `extra` lines appended.
    func discoveredProfile(_ name: String, scopes: [String] = ["openid", "offline_access"], extra: String = "") -> String {
        """
        [profiles.\(name)]
        kind = "oauth"
        issuer = "\(issuer)"
        client_id = "\(clientID)"
        scopes = [\(scopes.map { "\"\($0)\"" }.joined(separator: ", "))]

        """ + extra
    }

    /// The server's process ID, while it runs.
    var pid: Int32? {
        (try? String(contentsOfFile: workdir + "/glewlwyd.pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Sends the server a signal: SIGSTOP makes it hang, SIGCONT brings it back.
    func signal(_ number: Int32) {
        if let pid { kill(pid, number) }
    }

    /// Stops the server; ``restart()`` brings it back with everything it had issued.
    func stop() throws {
        let result = try runCommand(Self.scripts + "/stop", [workdir], environment: ["PATH": "/usr/bin:/bin"], timeout: 30)
        guard result.status == 0 else { throw HarnessError(description: "glewlwyd did not stop: \(result.stderr)") }
    }

    /// Starts the stopped server again on the same port and database.
    func restart() throws {
        let result = try runCommand(Self.scripts + "/restart", [workdir], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 60)
        guard result.status == 0 else { throw HarnessError(description: "glewlwyd did not restart: \(result.stderr)") }
    }

    /// Runs SQL on the server's database.
    func sql(_ statement: String) throws -> String {
        let result = try runCommand(which("sqlite3")!, ["-cmd", ".timeout 10000", workdir + "/glewlwyd.db", statement], environment: [:], timeout: 30)
        guard result.status == 0 else { throw HarnessError(description: "sqlite3: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Access tokens issued so far: one per grant, the login's code grant included.
    func grantsIssued() throws -> Int {
        Int(try sql("SELECT count(*) FROM gpo_access_token")) ?? -1
    }

    /// Revokes every refresh token, as an administrator would.
    func revokeRefreshTokens() throws {
        _ = try sql("UPDATE gpo_refresh_token SET gpor_enabled = 0")
    }

    /// Whether the userinfo endpoint accepts `token`.
    func accepts(_ token: String) throws -> Bool {
        let result = try runCommand(
            which("curl")!, ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)", userinfoURL],
            environment: [:], timeout: 30)
        return result.stdout == "200"
    }

    /// Plays the user approving a device login at its verification URI (with the user code in it), as alice.
    func approveDevice(_ verificationURL: String) throws {
        let result = try runCommand(Self.scripts + "/device", [verificationURL], environment: ["PATH": "/usr/bin:/bin"], timeout: 60)
        guard result.status == 0 else { throw HarnessError(description: "the scripted approval failed: \(result.stderr)") }
    }

    /// Plays the user in a browser: logs in as alice, grants the scopes, and returns the redirect URL it ends on.
    func signIn(_ authorizeURL: String) throws -> String {
        let result = try runCommand(Self.scripts + "/browser", [authorizeURL], environment: ["PATH": "/usr/bin:/bin"], timeout: 60)
        guard result.status == 0 else { throw HarnessError(description: "the scripted browser failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Calls `body` with the socket address of 127.0.0.1:`port`.
func withLoopbackAddress<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A TCP port on 127.0.0.1 and ::1 that was free a moment ago, below the kernel's ephemeral range: a port the kernel
/// hands out (to a bind of port 0 or to an outgoing connection, which the proxy tests make by the thousand) could be
/// taken again by another test before the one asking binds it. Never the same port twice in one run.
func freePort() throws -> Int {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
        .split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
    for _ in 0..<1000 {
        let port = Int.random(in: 10000..<max(10001, range))
        guard HandedOutPorts.shared.take(port), isFree(port) else { continue }
        return port
    }
    throw HarnessError(description: "cannot find a free port below \(range)")
}

/// Whether nothing holds `port` on 127.0.0.1 or ::1.
private func isFree(_ port: Int) -> Bool {
    let v4 = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(v4) }
    guard withLoopbackAddress(port: port, { bind(v4, $0, $1) }) == 0 else { return false }
    let v6 = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(v6) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_port = in_port_t(UInt16(port).bigEndian)
    address.sin6_addr = in6addr_loopback
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(v6, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    }
    return bound == 0 || errno == EADDRNOTAVAIL
}

/// The ports `freePort` has handed out in this run.
private final class HandedOutPorts: @unchecked Sendable {
    static let shared = HandedOutPorts()
    private let lock = NSLock()
    private var ports: Set<Int> = []

    func take(_ port: Int) -> Bool {
        lock.withLock { ports.insert(port).inserted }
    }
}

/// The query parameters of a URL, percent-decoded.
func queryParameters(_ url: String) -> [String: String] {
    guard let components = URLComponents(string: url) else { return [:] }
    return Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { $1 }
}
