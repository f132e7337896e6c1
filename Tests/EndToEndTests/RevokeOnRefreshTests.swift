import ClaudeAuthAPI
import ClaudeAuthCore
import Foundation
import NIOCore
import Synchronization
import Testing

/// Against a server that deletes the previous access token the moment it takes a refresh grant (as
/// django-oauth-toolkit does), a token handed out while a refresh is in flight dies in the client's hands: the
/// daemon must make such requests wait for the new token.
@Suite("refresh against a server that revokes the previous access token")
struct RevokeOnRefreshTests {
    /// The server's truth: which access tokens live, and when each refresh grant came in and was answered.
    final class RotatingServer: Sendable {
        struct Grant: Sendable {
            var receivedAt: Date
            var answeredAt: Date
            var revoked: String
        }

        private struct State {
            var issued = 0
            var refreshToken = ""
            var accessToken = ""
            /// When each access token was revoked.
            var revokedAt: [String: Date] = [:]
            var expiresAt: [String: Date] = [:]
            var grants: [Grant] = []
            var refused = 0
        }

        static let lifetime = 4
        /// How long a refresh grant takes to answer: the window in which the old token is already dead.
        static let latency = TimeAmount.milliseconds(500)
        private let state = Mutex(State())

        /// Answers a grant: the code at login, or the current refresh token, each rotating both tokens.
        func answer(_ request: FaultyTokenEndpoint.Received) -> FaultyTokenEndpoint.Answer {
            let form = TokenEndpointClientTests.form(request.body)
            let received = Date()
            let issued = state.withLock { state -> (access: String, refresh: String)? in
                switch form["grant_type"] {
                case "authorization_code":
                    break
                case "refresh_token" where form["refresh_token"] == state.refreshToken:
                    state.revokedAt[state.accessToken] = received
                    let answeredAt = received.addingTimeInterval(TimeInterval(Self.latency.nanoseconds) / 1e9)
                    state.grants.append(Grant(receivedAt: received, answeredAt: answeredAt, revoked: state.accessToken))
                default:
                    state.refused += 1
                    return nil
                }
                state.issued += 1
                state.accessToken = "at-\(state.issued)-\(UUID().uuidString)"
                state.refreshToken = "rt-\(state.issued)-\(UUID().uuidString)"
                state.expiresAt[state.accessToken] = received.addingTimeInterval(TimeInterval(Self.lifetime))
                return (state.accessToken, state.refreshToken)
            }
            guard let issued else { return .json(400, #"{"error":"invalid_grant"}"#) }
            let body = #"{"access_token":"\#(issued.access)","refresh_token":"\#(issued.refresh)","token_type":"Bearer","expires_in":\#(Self.lifetime)}"#
            return form["grant_type"] == "refresh_token" ? .after(Self.latency, .json(200, body)) : .json(200, body)
        }

        /// Whether `token` was already dead at `instant`: revoked by a grant taken before it, or expired.
        func wasDead(_ token: String, at instant: Date) -> Bool {
            state.withLock { state in
                guard let expiry = state.expiresAt[token] else { return true }
                return expiry <= instant || state.revokedAt[token].map { $0 <= instant } ?? false
            }
        }

        var grants: [Grant] { state.withLock { $0.grants } }
        var refused: Int { state.withLock { $0.refused } }
    }

    /// One request as the client saw it.
    struct Served: Sendable {
        var sentAt: Date
        var answeredAt = Date()
        var token: String?
    }

    /// What the clients saw, and when they are to stop.
    final class Clients: Sendable {
        let served = Mutex<[Served]>([])
        let stop = Atomic(false)

        func record(_ sentAt: Date, _ token: String?) {
            served.withLock { $0.append(Served(sentAt: sentAt, token: token)) }  // answered now
        }
    }

    @Test("a soak of continuous requests across refreshes: no token served is already dead, and requests during each refresh wait for it")
    func soak() async throws {
        let server = RotatingServer()
        let endpoint = try await FaultyTokenEndpoint(answer: server.answer)
        let sandbox = try Sandbox()
        let redirectPort = try freePort()
        try sandbox.writeConfig("default_profile = \"work\"\n" + oauthProfile("work", clientID: "c", tokenURL: endpoint.url, redirectPort: redirectPort))
        let daemon = try DaemonProcess(sandbox: sandbox)
        let ticket = try sandbox.startLogin("work")
        #expect(try sandbox.deliverRedirect(ticket, port: redirectPort, code: "login").contains("Signed in"))
        #expect(try sandbox.loginStatus(ticket.loginID).state == .succeeded)

        // Three clients ask for the token without pause, each on its own keep-alive connection, until the server
        // has taken eight refresh grants (about 3 s apart: 4 s tokens, refreshed 70–80 % into 3 usable seconds).
        let clients = Clients()
        let socket = sandbox.socketPath
        let readers = (0..<3).map { _ in
            Thread {
                guard let connection = try? RawConnection(path: socket) else { return clients.record(Date(), nil) }
                while !clients.stop.load(ordering: .relaxed) {
                    let sentAt = Date()
                    guard connection.send("GET /v1/token?profile=work HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                        let response = connection.readResponse(timeout: 30)
                    else {
                        clients.record(sentAt, nil)
                        return
                    }
                    let ok = response.hasPrefix("HTTP/1.1 200")
                    let body = response.components(separatedBy: "\r\n\r\n").last?.trimmingCharacters(in: .whitespacesAndNewlines)
                    clients.record(sentAt, ok ? body : nil)
                }
            }
        }
        readers.forEach { $0.start() }
        let soaked = waitUntil(120, every: 100_000) { server.grants.count >= 8 }
        clients.stop.store(true, ordering: .relaxed)
        #expect(waitUntil(40) { readers.allSatisfy(\.isFinished) })
        #expect(soaked, "\(server.grants.count) refresh grants")

        let requests = clients.served.withLock { $0 }
        let grants = server.grants
        #expect(requests.count >= 3 * grants.count, "\(requests.count) requests")
        #expect(requests.allSatisfy { $0.token != nil }, "\(requests.filter { $0.token == nil }.count) requests failed")
        let dead = requests.filter { request in request.token.map { server.wasDead($0, at: request.sentAt) } ?? false }
        #expect(dead.count == 0, "\(dead.count) of \(requests.count) tokens served were already dead when asked for")
        // The test exercised what it claims: requests were open while a refresh was in flight at the server.
        let duringRefresh = requests.filter { request in
            grants.contains { request.sentAt < $0.answeredAt && $0.receivedAt < request.answeredAt }
        }
        #expect(duringRefresh.count >= grants.count, "\(duringRefresh.count) requests during \(grants.count) refreshes")
        print("revoke-on-refresh soak: \(requests.count) requests, \(duringRefresh.count) open during \(grants.count) refreshes, \(dead.count) dead")
        // Single flight: every grant used the refresh token just issued.
        #expect(server.refused == 0)
        #expect(daemon.stop() == 0)
        await endpoint.stop()
    }
}
