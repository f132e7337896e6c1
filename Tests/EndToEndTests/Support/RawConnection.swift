import Foundation

/// A raw stream connection to a Unix socket, for requests no well-behaved client would send.
final class RawConnection {
    private let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw HarnessError(description: "connect \(path): \(errno)")
        }
    }

    /// Connects once `path` exists, waiting up to `timeout` seconds for a launcher to create it (inotify).
    convenience init(path: String, timeout: Int) throws {
        let watch = inotify_init1(Int32(IN_CLOEXEC))
        defer { close(watch) }
        let directory = (path as NSString).deletingLastPathComponent
        inotify_add_watch(watch, directory, UInt32(IN_CREATE))
        var events = [UInt8](repeating: 0, count: 4096)
        var poller = pollfd(fd: watch, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        while !FileManager.default.fileExists(atPath: path) {
            let left = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
            guard left > 0, poll(&poller, 1, left) > 0 else { throw HarnessError(description: "\(path) did not appear") }
            _ = events.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
        }
        // bind() and listen() are two calls: between them a connection is refused, and no event tells.
        while true {
            do {
                try self.init(path: path)
                return
            } catch let error as HarnessError where error.description.hasSuffix(": \(ECONNREFUSED)") && deadline.timeIntervalSinceNow > 0 {
                _ = poll(nil, 0, 5)
            }
        }
    }

    deinit {
        close(fd)
    }

    /// Sends bytes; false when the peer has closed.
    @discardableResult
    func send(_ text: String) -> Bool {
        send(Array(text.utf8))
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Reads until the peer closes; nil if it has not closed within `timeout` seconds.
    func readToEnd(timeout: Int = 10) -> String? {
        setReceiveTimeout(timeout)
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return String(decoding: data, as: UTF8.self) }
            if count < 0 { return errno == ECONNRESET ? String(decoding: data, as: UTF8.self) : nil }
            data += buffer[..<count]
        }
    }

    /// Reads one response with a `Content-Length` body; nil on timeout.
    func readResponse(timeout: Int = 10) -> String? {
        setReceiveTimeout(timeout)
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let text = String(decoding: data, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length { return text }
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return nil }
            data += buffer[..<count]
        }
    }

    private func setReceiveTimeout(_ seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }
}
