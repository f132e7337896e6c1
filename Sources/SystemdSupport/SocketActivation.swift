import CSystemd

/// Sockets passed by systemd's socket activation (`LISTEN_FDS`, `LISTEN_PID`).
public enum SocketActivation {
    /// Why the passed sockets cannot be used.
    public struct Failure: Error, CustomStringConvertible {
        /// A sentence saying what was wrong.
        public var description: String
    }

    /// The listening Unix stream socket passed by systemd, or nil when the process was not socket-activated.
    ///
    /// Reads and unsets `LISTEN_FDS`/`LISTEN_PID`, so children do not inherit them.
    public static func inheritedUnixSocket() throws(Failure) -> Int32? {
        let count = sd_listen_fds(1)
        guard count >= 0 else { throw Failure(description: "sd_listen_fds failed: error \(-count)") }
        guard count > 0 else { return nil }
        guard count == 1 else { throw Failure(description: "expected one socket from systemd, got \(count)") }
        let fd = SD_LISTEN_FDS_START
        guard sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 else {
            throw Failure(description: "the socket passed by systemd is not a listening Unix stream socket")
        }
        return fd
    }
}
