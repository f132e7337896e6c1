// claude-auth-load: keep-alive HTTP load over a Unix socket or loopback TCP (`tcp:127.0.0.1:PORT`), for `make bench`.
import Foundation

/// Latencies and failures gathered from every connection's thread.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var latencies: [UInt64] = []
    private(set) var failures = 0

    func add(_ latencies: [UInt64], failures: Int) {
        lock.withLock {
            self.latencies += latencies
            self.failures += failures
        }
    }
}

@main
enum LoadGenerator {
    static func main() {
        let arguments = CommandLine.arguments
        guard (5...6).contains(arguments.count), let connections = Int(arguments[2]), let perConnection = Int(arguments[3]) else {
            FileHandle.standardError.write(
                Data("usage: claude-auth-load SOCKET|tcp:IPV4:PORT CONNECTIONS REQUESTS_PER_CONNECTION [METHOD ]TARGET [EXPECTED_STATUS]\n".utf8))
            exit(64)
        }
        let path = arguments[1]
        let target = arguments[4].contains(" ") ? arguments[4] : "GET " + arguments[4]
        expectedStatus = arguments.count == 6 ? arguments[5] : "200"
        let host = path.hasPrefix("tcp:") ? String(path.dropFirst(4)) : "localhost"
        let request = Array("\(target) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: 0\r\n\r\n".utf8)
        let results = Results()
        let group = DispatchGroup()
        let start = now()
        for _ in 0..<connections {
            group.enter()
            Thread {
                let (latencies, failures) = run(path: path, request: request, count: perConnection)
                results.add(latencies, failures: failures)
                group.leave()
            }.start()
        }
        group.wait()
        let elapsed = Double(now() - start) / 1e9
        let latencies = results.latencies.sorted()
        let percentile = { (p: Double) -> Double in
            latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1e3
        }
        print(
            String(
                format: "requests %d, failures %d, %.2f s, %.0f req/s, p50 %.0f us, p99 %.0f us, max %.0f us",
                latencies.count, results.failures, elapsed, Double(latencies.count) / elapsed, percentile(0.5),
                percentile(0.99), percentile(1.0)))
        exit(results.failures == 0 ? 0 : 1)
    }

    /// The status every response must have.
    nonisolated(unsafe) static var expectedStatus = "200"

    /// Sends `count` requests on one keep-alive connection; returns each one's latency in nanoseconds.
    static func run(path: String, request: [UInt8], count: Int) -> ([UInt64], Int) {
        let fd = connectSocket(path)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var latencies: [UInt64] = []
        latencies.reserveCapacity(count)
        for _ in 0..<count {
            let begin = now()
            let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == request.count, readResponse(fd, &buffer) else { return (latencies, 1) }
            latencies.append(now() - begin)
        }
        return (latencies, 0)
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func connectSocket(_ path: String) -> Int32 {
        if path.hasPrefix("tcp:") { return connectTCP(String(path.dropFirst(4))) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(result == 0, "cannot connect to \(path)")
        return fd
    }

    /// Connects to `IPV4:PORT`, with Nagle off as HTTP clients have it.
    static func connectTCP(_ hostPort: String) -> Int32 {
        let parts = hostPort.split(separator: ":")
        precondition(parts.count == 2, "tcp: takes IPV4:PORT")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(parts[1])!).bigEndian
        precondition(inet_pton(AF_INET, String(parts[0]), &address.sin_addr) == 1, "not an IPv4 address: \(parts[0])")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(result == 0, "cannot connect to \(hostPort)")
        return fd
    }

    /// Reads one response: headers up to CRLFCRLF, then Content-Length bytes. False on EOF, error or another status.
    static func readResponse(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var received = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, $0.count - received, 0) }
            if count <= 0 { return false }
            received += count
            let view = buffer[..<received]
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else { continue }
            let head = String(decoding: view[..<end.lowerBound], as: UTF8.self).lowercased()
            guard head.hasPrefix("http/1.1 \(expectedStatus)") else { return false }
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
            if received - end.upperBound >= length { return true }
        }
    }
}
