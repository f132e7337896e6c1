#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX file operations with the checks a credential daemon needs (ssh's rules).
public enum FileIO {
    /// Reads a whole file of at most `limit` bytes; nil when it does not exist.
    public static func read(_ path: String, limit: Int) throws(FileError) -> [UInt8]? {
        try read(path, limit: limit, requirePrivate: false)
    }

    /// Reads a file that must be a regular file of this user, unreadable by group and others; nil when absent.
    public static func readPrivate(_ path: String, limit: Int) throws(FileError) -> [UInt8]? {
        try read(path, limit: limit, requirePrivate: true)
    }

    private static func read(_ path: String, limit: Int, requirePrivate: Bool) throws(FileError) -> [UInt8]? {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; the type check below refuses it.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (requirePrivate ? O_NOFOLLOW : 0))
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .system("open", path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("stat", path) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw FileError(path: path, reason: .wrongType) }
        if requirePrivate { try checkPrivate(info, path: path) }
        guard info.st_size <= limit else { throw FileError(path: path, reason: .tooLarge(limit: limit)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("read", path)
            }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
            if bytes.count > limit { throw FileError(path: path, reason: .tooLarge(limit: limit)) }
        }
    }

    /// Creates `path` as a directory private to this user (0700), with any missing parents;
    /// an existing one must already be private and this user's.
    public static func ensurePrivateDirectory(_ path: String) throws(FileError) {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw FileError(path: path, reason: .wrongType) }
            try checkPrivate(info, path: path)
            return
        }
        guard errno == ENOENT else { throw .system("stat", path) }
        let parent = directoryName(of: path)
        if parent != path, access(parent, F_OK) != 0 {
            try ensureDirectory(parent)
        }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .system("mkdir", path) }
        guard chmod(path, 0o700) == 0 else { throw .system("chmod", path) }
    }

    /// Creates a directory and its missing parents as 0700, leaving existing ones as they are.
    private static func ensureDirectory(_ path: String) throws(FileError) {
        let parent = directoryName(of: path)
        if parent != path, access(parent, F_OK) != 0 { try ensureDirectory(parent) }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw .system("mkdir", path) }
    }

    /// Writes `bytes` to `path` atomically and durably as a 0600 file: a temporary file in the same
    /// directory, fsync, rename over the target, fsync of the directory.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(FileError) {
        let directory = directoryName(of: path)
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: .min ... .max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .system("create", temporary) }
        do throws(FileError) {
            try writeAll(bytes, to: fd, path: temporary)
            guard fsync(fd) == 0 else { throw .system("fsync", temporary) }
            guard close(fd) == 0 else { throw .system("close", temporary) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .system("rename", path, errno: code)
        }
        try syncDirectory(directory)
    }

    /// Removes a file and makes the removal durable; a missing file is not an error.
    public static func remove(_ path: String) throws(FileError) {
        guard unlink(path) == 0 else {
            if errno == ENOENT { return }
            throw .system("unlink", path)
        }
        try syncDirectory(directoryName(of: path))
    }

    /// Moves a file aside to `path.suffix` (`path.suffix-2`, … when taken), never over another file, durably;
    /// returns where it went.
    public static func moveAside(_ path: String, suffix: String) throws(FileError) -> String {
        for attempt in 1...1000 {
            let destination = attempt == 1 ? "\(path).\(suffix)" : "\(path).\(suffix)-\(attempt)"
            // link(2) fails on an existing name where rename(2) would replace it.
            guard link(path, destination) == 0 else {
                if errno == EEXIST { continue }
                throw .system("link", destination)
            }
            guard unlink(path) == 0 else { throw .system("unlink", path) }
            try syncDirectory(directoryName(of: path))
            return destination
        }
        throw .system("link", "\(path).\(suffix)", errno: EEXIST)
    }

    /// The directory part of a path (`.` for a bare name).
    public static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func syncDirectory(_ directory: String) throws(FileError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open", directory) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .system("fsync", directory) }
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("write", path)
            }
            offset += written
        }
    }

    private static func checkPrivate(_ info: stat, path: String) throws(FileError) {
        guard info.st_uid == geteuid() else { throw FileError(path: path, reason: .wrongOwner(uid: info.st_uid)) }
        guard info.st_mode & 0o077 == 0 else {
            throw FileError(path: path, reason: .permissionsTooOpen(mode: UInt32(info.st_mode)))
        }
    }
}

extension FileIO {
    /// Whether anything exists at `path` (without following a final link).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}
