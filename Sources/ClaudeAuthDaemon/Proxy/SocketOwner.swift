import CSocketDiagnostics
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Who owns the other end of a TCP connection on this machine, as the kernel's socket diagnostics tell.
enum SocketOwner {
    /// The uid owning the socket connected from `peer` to `local` (this process's end); nil when the kernel knows no
    /// such connected socket, or cannot be asked.
    static func uid(connectedFrom peer: SocketAddress, to local: SocketAddress) -> UInt32? {
        let owner: Int64
        switch (peer, local) {
        case (.v4(let peer), .v4(let local)):
            var peerAddress = peer.address.sin_addr
            var localAddress = local.address.sin_addr
            owner = withUnsafeBytes(of: &peerAddress) { peerBytes in
                withUnsafeBytes(of: &localAddress) { localBytes in
                    csockdiag_tcp_owner(
                        AF_INET, peerBytes.bindMemory(to: UInt8.self).baseAddress, UInt16(bigEndian: peer.address.sin_port),
                        localBytes.bindMemory(to: UInt8.self).baseAddress, UInt16(bigEndian: local.address.sin_port))
                }
            }
        case (.v6(let peer), .v6(let local)):
            var peerAddress = peer.address.sin6_addr
            var localAddress = local.address.sin6_addr
            owner = withUnsafeBytes(of: &peerAddress) { peerBytes in
                withUnsafeBytes(of: &localAddress) { localBytes in
                    csockdiag_tcp_owner(
                        AF_INET6, peerBytes.bindMemory(to: UInt8.self).baseAddress, UInt16(bigEndian: peer.address.sin6_port),
                        localBytes.bindMemory(to: UInt8.self).baseAddress, UInt16(bigEndian: local.address.sin6_port))
                }
            }
        default:
            return nil
        }
        return owner >= 0 ? UInt32(exactly: owner) : nil
    }
}
