import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Sockets passed by systemd's socket activation (`LISTEN_FDS`, `LISTEN_PID`).
public enum SocketActivation {
    /// Why the passed sockets cannot be used.
    public struct Failure: Error, CustomStringConvertible {
        /// A sentence saying what was wrong.
        public var description: String
    }

    /// The listening sockets systemd passed, each nil when not passed (all nil when the process was not
    /// socket-activated): the socket API's Unix socket, the restricted remote one, and the proxy's TCP socket.
    public struct Sockets: Sendable, Equatable {
        /// The socket API's listening Unix stream socket.
        public var unix: Int32?
        /// The restricted socket for remote hosts: a Unix stream socket bound to a path ending in `remoteName`.
        public var remote: Int32?
        /// The proxy's listening TCP socket.
        public var tcp: Int32?
    }

    /// The remote socket's file name, which tells it from the main socket.
    public static let remoteName = "remote.socket"

    /// Takes the sockets passed by systemd; reads and unsets `LISTEN_FDS`/`LISTEN_PID`, so children do not
    /// inherit them.
    public static func inherited() throws(Failure) -> Sockets {
        let count = sd_listen_fds(1)
        guard count >= 0 else { throw Failure(description: "sd_listen_fds failed: error \(-count)") }
        var sockets = Sockets()
        for fd in SD_LISTEN_FDS_START..<(SD_LISTEN_FDS_START + count) {
            if sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 {
                if boundPath(fd)?.hasSuffix("/" + remoteName) == true, sockets.remote == nil {
                    sockets.remote = fd
                } else if sockets.unix == nil {
                    sockets.unix = fd
                } else {
                    throw Failure(description: "systemd passed two Unix sockets for the socket API")
                }
            } else if sd_is_socket_inet(fd, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1, 0) > 0, sockets.tcp == nil {
                sockets.tcp = fd
            } else {
                throw Failure(description: "systemd passed a socket that is neither a listening Unix stream socket nor one listening TCP socket")
            }
        }
        if count > 0 && sockets.unix == nil { throw Failure(description: "systemd passed no listening Unix stream socket for the socket API") }
        return sockets
    }

    /// The path a Unix socket is bound to.
    private static func boundPath(_ fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        return withUnsafeBytes(of: address.sun_path) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
