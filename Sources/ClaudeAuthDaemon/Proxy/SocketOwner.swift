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
            owner = lookup(peer.address, local.address)
        case (.v6(let peer), .v6(let local)):
            owner = lookup(peer.address, local.address)
        default:
            return nil
        }
        return owner >= 0 ? UInt32(exactly: owner) : nil
    }

    /// Asks for the socket whose local end is `address` and whose remote end is `remote`, as `sockaddr`s of one family.
    private static func lookup<Address>(_ address: Address, _ remote: Address) -> Int64 {
        withUnsafeBytes(of: address) { address in
            withUnsafeBytes(of: remote) { remote in csockdiag_tcp_owner(address.baseAddress, remote.baseAddress) }
        }
    }
}
