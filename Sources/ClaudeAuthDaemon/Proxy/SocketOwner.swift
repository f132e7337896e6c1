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
            owner = lookup(AF_INET, peer.address.sin_addr, peer.address.sin_port, local.address.sin_addr, local.address.sin_port)
        case (.v6(let peer), .v6(let local)):
            owner = lookup(AF_INET6, peer.address.sin6_addr, peer.address.sin6_port, local.address.sin6_addr, local.address.sin6_port)
        default:
            return nil
        }
        return owner >= 0 ? UInt32(exactly: owner) : nil
    }

    /// Asks for the socket whose local end is `address`:`port` and whose remote end is `remote`:`remotePort`
    /// (addresses and ports as a `sockaddr` holds them, in network order).
    private static func lookup<Address>(_ family: Int32, _ address: Address, _ port: UInt16, _ remote: Address, _ remotePort: UInt16) -> Int64 {
        withUnsafeBytes(of: address) { address in
            withUnsafeBytes(of: remote) { remote in
                csockdiag_tcp_owner(
                    family, address.bindMemory(to: UInt8.self).baseAddress, UInt16(bigEndian: port), remote.bindMemory(to: UInt8.self).baseAddress,
                    UInt16(bigEndian: remotePort))
            }
        }
    }
}
