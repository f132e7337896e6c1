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

    /// The listening sockets systemd passed: the socket API's Unix socket and the proxy's TCP socket, each nil
    /// when not passed (both nil when the process was not socket-activated).
    public struct Sockets: Sendable, Equatable {
        /// The socket API's listening Unix stream socket.
        public var unix: Int32?
        /// The proxy's listening TCP socket.
        public var tcp: Int32?
    }

    /// Takes the sockets passed by systemd; reads and unsets `LISTEN_FDS`/`LISTEN_PID`, so children do not
    /// inherit them.
    public static func inherited() throws(Failure) -> Sockets {
        let count = sd_listen_fds(1)
        guard count >= 0 else { throw Failure(description: "sd_listen_fds failed: error \(-count)") }
        var sockets = Sockets()
        for fd in SD_LISTEN_FDS_START..<(SD_LISTEN_FDS_START + count) {
            if sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0, sockets.unix == nil {
                sockets.unix = fd
            } else if sd_is_socket_inet(fd, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1, 0) > 0, sockets.tcp == nil {
                sockets.tcp = fd
            } else {
                throw Failure(description: "systemd passed a socket that is neither one listening Unix stream socket nor one listening TCP socket")
            }
        }
        if count > 0 && sockets.unix == nil { throw Failure(description: "systemd passed no listening Unix stream socket for the socket API") }
        return sockets
    }
}
