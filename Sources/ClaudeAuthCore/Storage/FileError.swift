#if canImport(Glibc)
import Glibc
#endif

/// A file operation that failed, naming the file and what to do; never its content.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as a category.
    public enum Reason: Sendable, Equatable {
        /// The file or directory may be read or entered by group or others.
        case permissionsTooOpen(mode: UInt32)
        /// It belongs to another user.
        case wrongOwner(uid: UInt32)
        /// It is not the kind of file expected (a directory, a link, a socket, …).
        case wrongType
        /// It is larger than the limit.
        case tooLarge(limit: Int)
        /// A system call failed.
        case system(operation: String, errno: Int32)
        /// It was not written by the daemon, which never replaces such a file.
        case notOurs
    }

    /// The file concerned.
    public var path: String
    /// Why it failed.
    public var reason: Reason

    /// Creates a file error.
    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    static func system(_ operation: String, _ path: String, errno code: Int32 = errno) -> FileError {
        FileError(path: path, reason: .system(operation: operation, errno: code))
    }

    /// A sentence that says what is wrong and how to fix it.
    public var description: String {
        switch reason {
        case .permissionsTooOpen(let mode):
            let octal = String(mode & 0o7777, radix: 8)
            return "\(path) is accessible by group or others (mode \(octal)); run `chmod go-rwx \(path)`"
        case .wrongOwner(let uid):
            return "\(path) belongs to uid \(uid), not to this user"
        case .wrongType:
            return "\(path) is not a regular file or directory as expected"
        case .tooLarge(let limit):
            return "\(path) is larger than \(limit) bytes"
        case .system(let operation, let code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        case .notOurs:
            return "\(path) exists and was not written by claude-authd: move it away, or choose another sdk_profile"
        }
    }
}
