import Foundation
import Testing

/// The client is on the hot path of every shell tool: it must not carry the daemon's machinery.
@Suite("the client binary")
struct ClientBinaryTests {
    @Test("claude-auth links neither SwiftNIO, async-http-client nor libsystemd")
    func thin() throws {
        let binary = try Data(contentsOf: URL(fileURLWithPath: Binaries.client))
        for marker in ["NIOPosix", "ServerBootstrap", "AsyncHTTPClient", "sd_journal_sendv", "sd_notify", "libsystemd"] {
            #expect(binary.range(of: Data(marker.utf8)) == nil, "\(marker) is in the client")
        }
        // The same check finds them in the daemon, so it can fail.
        let daemon = try Data(contentsOf: URL(fileURLWithPath: Binaries.daemon))
        #expect(daemon.range(of: Data("ServerBootstrap".utf8)) != nil)
        #expect(daemon.range(of: Data("sd_notify".utf8)) != nil)
    }
}
