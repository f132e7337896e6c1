#if canImport(Glibc)
import Glibc
#endif

/// Connecting to a Unix stream socket by path.
public enum UnixSocket {
    /// The longest path a Unix socket address holds.
    public static let maximumPathLength = 107

    /// A connected stream socket (close-on-exec), or the errno of the failure (`ENAMETOOLONG` for a long path).
    public static func connect(to path: String) -> Result<Int32, UnixSocketError> {
        guard path.utf8.count <= maximumPathLength else { return .failure(UnixSocketError(code: ENAMETOOLONG)) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(UnixSocketError(code: errno)) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(fd)
            return .failure(UnixSocketError(code: code))
        }
        return .success(fd)
    }
}

/// A failed socket call: its errno, with the system's description.
public struct UnixSocketError: Error, Sendable, CustomStringConvertible {
    /// The errno.
    public var code: Int32
    /// The system's description of the errno.
    public var description: String { String(cString: strerror(code)) }
}
