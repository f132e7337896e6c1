import ClaudeAuthAPI

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 response.
public struct HTTPReply: Sendable {
    /// The status code.
    public var status: Int
    /// The body.
    public var body: [UInt8]
}

/// A minimal HTTP/1.1 client over a Unix socket: one request per connection, blocking, no dependencies,
/// so that the client starts fast.
public struct UnixSocketHTTPClient: Sendable {
    /// The socket path.
    public var path: String
    /// How long to wait for the answer, in seconds.
    public var timeout: Int

    /// The largest answer read.
    static let maximumReplySize = 4 << 20

    /// Creates a client.
    public init(path: String, timeout: Int = 30) {
        self.path = path
        self.timeout = timeout
    }

    /// Sends one request and reads the whole answer.
    public func send(_ method: String, _ target: String, body: [UInt8]? = nil, contentType: String = "text/plain") throws(ClientError) -> HTTPReply {
        let fd = try connectSocket()
        defer { close(fd) }
        var request = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let body { request += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        request += "\r\n"
        try writeAll(Array(request.utf8) + (body ?? []), to: fd)
        return try parse(readAll(from: fd))
    }

    private func connectSocket() throws(ClientError) -> Int32 {
        let fd: Int32
        switch UnixSocket.connect(to: path) {
        case .success(let connected): fd = connected
        case .failure(let error): throw .unreachable(path, reason: error.description)
        }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private func writeAll(_ bytes: [UInt8], to fd: Int32) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .unreachable(path, reason: "sending the request failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    private func readAll(from fd: Int32) throws(ClientError) -> [UInt8] {
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = errno == EAGAIN ? "no answer within \(timeout) s" : String(cString: strerror(errno))
                throw ClientError(exitCode: 75, message: "claude-authd at \(path) did not answer: \(reason)")
            }
            if count == 0 { return reply }
            reply += chunk[..<count]
            guard reply.count <= Self.maximumReplySize else {
                throw ClientError(exitCode: 70, message: "claude-authd's answer is larger than \(Self.maximumReplySize) bytes")
            }
        }
    }

    /// Reads the status line and finds the body, on bytes: this runs on every start of the client.
    private func parse(_ reply: [UInt8]) throws(ClientError) -> HTTPReply {
        guard let end = reply.indices.dropLast(3).first(where: { reply[$0] == 13 && reply[$0 + 1] == 10 && reply[$0 + 2] == 13 && reply[$0 + 3] == 10 })
        else {
            throw ClientError(exitCode: 70, message: "claude-authd at \(path) sent an incomplete answer")
        }
        let prefix = Array("HTTP/1.".utf8)
        // "HTTP/1.x NNN ": the version, a space, three digits and a space or the line's end.
        guard end >= 12, reply.starts(with: prefix), reply[8] == 32, reply[12] == 32 || reply[12] == 13,
            reply[9...11].allSatisfy({ (48...57).contains($0) })
        else {
            throw ClientError(exitCode: 70, message: "claude-authd at \(path) sent something that is not HTTP")
        }
        let status = reply[9...11].reduce(0) { $0 * 10 + Int($1 - 48) }
        return HTTPReply(status: status, body: Array(reply[(end + 4)...]))
    }
}
