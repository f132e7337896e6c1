import ClaudeAuthAPI
import ClaudeAuthCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the server listens: a socket passed by systemd, or a path it binds itself.
enum SocketEndpoint: Sendable {
    /// A listening socket inherited through socket activation.
    case inherited(fd: Int32)
    /// A path to bind; its directory is created private if missing.
    case path(String)

    /// Why the socket path cannot be used.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Makes `path` ready to bind: its directory exists (private when `privateDirectory`), and a stale socket
    /// left by a dead daemon is removed. A live daemon or a non-socket at the path is refused.
    static func preparePath(_ path: String, privateDirectory: Bool) throws(Failure) {
        guard path.utf8.count <= UnixSocket.maximumPathLength else {
            throw Failure(description: "the socket path \(path) is longer than \(UnixSocket.maximumPathLength) bytes")
        }
        let directory = FileIO.directoryName(of: path)
        do {
            if privateDirectory || !FileIO.exists(directory) {
                try FileIO.ensurePrivateDirectory(directory)
            }
        } catch {
            throw Failure(description: "cannot use the socket directory: \(error)")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Failure(description: "\(path) exists and is not a socket: remove it or choose another --socket")
        }
        if isAnswering(path) {
            throw Failure(description: "another claude-authd is already serving \(path)")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw Failure(description: "cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Whether a process accepts connections on the socket at `path`.
    private static func isAnswering(_ path: String) -> Bool {
        guard case .success(let fd) = UnixSocket.connect(to: path) else { return false }
        close(fd)
        return true
    }
}
