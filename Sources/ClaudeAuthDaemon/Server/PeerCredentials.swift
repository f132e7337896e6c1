import CProcessControl
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The process on the other end of a Unix socket connection, as the kernel reports it (`SO_PEERCRED`).
struct PeerCredentials: Sendable {
    var pid: Int32
    var uid: UInt32

    /// Reads the peer credentials of a connected Unix socket channel; called on its event loop, it completes at once.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported) }
        return provider.unsafeGetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
            .map { (credentials: cprocess_peer_credentials) in PeerCredentials(pid: credentials.pid, uid: credentials.uid) }
    }
}
