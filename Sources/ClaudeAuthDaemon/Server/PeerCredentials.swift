import CProcessControl
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The process on the other end of a Unix socket connection, as the kernel reports it (`SO_PEERCRED`).
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32

    /// Reads the peer credentials of a connected Unix socket channel.
    static func of(_ channel: any Channel) async throws -> PeerCredentials {
        guard let provider = channel as? any SocketOptionProvider else { throw ChannelError.operationUnsupported }
        let credentials: cprocess_peer_credentials = try await provider.unsafeGetSocketOption(
            level: .socket,
            name: NIOBSDSocket.Option(rawValue: SO_PEERCRED)
        ).get()
        return PeerCredentials(pid: credentials.pid, uid: credentials.uid)
    }
}
