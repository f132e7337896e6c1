// claude-auth-load: keep-alive HTTP/1.1 load over a Unix socket or loopback TCP (`tcp:127.0.0.1:PORT`), for
// `make bench`. One thread on epoll drives every connection, so the generator costs the machine the same however
// many connections it holds.
//
// Closed loop (default): each connection sends a request, waits for the whole answer, and sends the next.
// Fixed rate (`-r RATE`): requests are due at RATE per second in all, each handed to an idle connection; its
// latency counts from when it was due, so a server that stalls is charged for the requests it held up.
//
// Prints one line, as ../shared/bench/uds-load.c does:
// `requests N failures N seconds S rps R p50_us A p99_us B p999_us C max_us D`.
import CEpoll

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var target = ""
    var connections = 50
    var requests = 100_000
    var rate = 0.0
    var method = "GET"
    var path = "/v1/header?profile=api"
    var status = 200

    static let usage = "usage: claude-auth-load SOCKET|tcp:IPV4:PORT [-c CONNECTIONS] [-n REQUESTS] [-r RATE] [-m METHOD] [-p PATH] [-s STATUS]"

    init?(_ arguments: ArraySlice<String>) {
        var rest = arguments
        guard let target = rest.popFirst() else { return nil }
        self.target = target
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { return nil }
            switch flag {
            case "-c": guard let count = Int(value), count > 0 else { return nil }; connections = count
            case "-n": guard let count = Int(value), count > 0 else { return nil }; requests = count
            case "-r": guard let perSecond = Double(value), perSecond > 0 else { return nil }; rate = perSecond
            case "-m": method = value
            case "-p": path = value
            case "-s": guard let code = Int(value) else { return nil }; status = code
            default: return nil
            }
        }
    }
}

/// One keep-alive connection and the answer it is reading, which goes to its own slice of the shared buffer.
struct Connection {
    static let capacity = 64 * 1024
    let fd: Int32
    /// The bytes of the answer read so far.
    var received = 0
    /// When the request in flight was sent (closed loop) or due (fixed rate); nil while idle.
    var since: UInt64?
}

@main
enum LoadGenerator {
    static func main() {
        guard let options = Options(CommandLine.arguments.dropFirst()) else { fail(Options.usage, code: 64) }
        let host = options.target.hasPrefix("tcp:") ? String(options.target.dropFirst(4)) : "localhost"
        let request = Array("\(options.method) \(options.path) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: 0\r\n\r\n".utf8)
        // Wake when a request is due, not up to the default 50 µs after: a late send would count as the server's.
        let slack = open("/proc/self/timerslack_ns", O_WRONLY)
        if slack >= 0 { _ = write(slack, "1", 1); close(slack) }
        let poll = epoll_create1(Int32(EPOLL_CLOEXEC))
        var connections = (0..<options.connections).map { index -> Connection in
            let fd = dial(options.target)
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: UInt64(index)))
            epoll_ctl(poll, EPOLL_CTL_ADD, fd, &event)
            return Connection(fd: fd)
        }
        var latencies: [UInt32] = []
        latencies.reserveCapacity(options.requests)
        var issued = 0, failures = 0, nextIdle = 0
        let start = now()
        let interval = options.rate > 0 ? UInt64(1e9 / options.rate) : 0
        var due = start
        let spin: UInt64 = 200_000

        func send(_ index: Int, since: UInt64) {
            connections[index].since = since
            connections[index].received = 0
            issued += 1
            let sent = request.withUnsafeBytes { Glibc.send(connections[index].fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent != request.count { fail("cannot send on connection \(index): \(String(cString: strerror(errno)))") }
        }

        if interval == 0 {
            for index in connections.indices where issued < options.requests { send(index, since: now()) }
        }
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var buffer = [UInt8](repeating: 0, count: connections.count * Connection.capacity)
        while latencies.count < options.requests {
            var wait = timespec(tv_sec: 1, tv_nsec: 0)
            if interval > 0 {
                // Hand every request now due to an idle connection; one that finds none keeps its due time.
                let time = now()
                var probed = 0
                while issued < options.requests, due <= time, probed < connections.count {
                    if connections[nextIdle].since == nil {
                        send(nextIdle, since: due)
                        due += interval
                        probed = 0
                    } else {
                        probed += 1
                    }
                    nextIdle = (nextIdle + 1) % connections.count
                }
                // Sleep until shortly before the next request is due, then poll: a wakeup can come tens of
                // microseconds late, and a late send would count as the server's. A request already due waits for an
                // answer to free a connection.
                if issued < options.requests, due > time {
                    let ahead = (due - time) > spin ? (due - time) - spin : 0
                    wait = timespec(tv_sec: Int(ahead / 1_000_000_000), tv_nsec: Int(ahead % 1_000_000_000))
                }
            }
            let ready = events.withUnsafeMutableBufferPointer { epoll_pwait2(poll, $0.baseAddress, Int32($0.count), &wait, nil) }
            if ready < 0 && errno != EINTR { fail("epoll: \(String(cString: strerror(errno)))") }
            for event in events.prefix(Int(max(ready, 0))) {
                let index = Int(event.data.u64)
                let status = buffer.withUnsafeMutableBufferPointer { whole -> Int? in
                    let slice = UnsafeMutableBufferPointer(rebasing: whole[(index * Connection.capacity)..<((index + 1) * Connection.capacity)])
                    let have = connections[index].received
                    let count = recv(connections[index].fd, slice.baseAddress.map { $0 + have }, slice.count - have, 0)
                    if count < 0 && errno == EAGAIN { return nil }
                    guard count > 0, connections[index].since != nil else { fail("connection \(index) closed after \(latencies.count) answers") }
                    connections[index].received += count
                    return answered(UnsafeBufferPointer(rebasing: slice[..<connections[index].received]))
                }
                guard let status, let since = connections[index].since else { continue }
                let time = now()
                latencies.append(UInt32(clamping: (time - since) / 1000))
                if status != options.status { failures += 1 }
                connections[index].since = nil
                if interval == 0, issued < options.requests { send(index, since: time) }
            }
        }
        let seconds = Double(now() - start) / 1e9
        latencies.sort()
        let at = { (fraction: Double) in latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))] }
        print(
            "requests \(latencies.count) failures \(failures) seconds \(rounded(seconds, places: 3)) rps \(Int(Double(latencies.count) / seconds))"
                + " p50_us \(at(0.5)) p99_us \(at(0.99)) p999_us \(at(0.999)) max_us \(latencies[latencies.count - 1])")
        exit(failures == 0 ? 0 : 1)
    }

    /// The status of the whole answer in `bytes`, or nil while it is incomplete. Answers carry a Content-Length, as
    /// both servers measured send.
    static func answered(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let end = headEnd(bytes) else {
            if bytes.count == Connection.capacity { fail("an answer head larger than \(Connection.capacity) bytes") }
            return nil
        }
        let head = UnsafeBufferPointer(rebasing: bytes[..<end])
        guard head.starts(with: "HTTP/1.1 ".utf8), head.count >= 12, let status = number(head[9..<12]) else {
            fail("malformed answer: \(String(decoding: head.prefix(80), as: UTF8.self))")
        }
        guard let length = contentLength(head) else { fail("an answer without content-length") }
        return bytes.count - end - 4 >= length ? status : nil
    }

    /// Where the head's blank line (CRLF CRLF) starts.
    static func headEnd(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        while index + 3 < bytes.count {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 { return index }
            index += 1
        }
        return nil
    }

    /// The value of the head's Content-Length field, matched without regard to case.
    static func contentLength(_ head: UnsafeBufferPointer<UInt8>) -> Int? {
        let name = Array("\r\ncontent-length:".utf8)
        var index = 0
        while index + name.count <= head.count {
            if (0..<name.count).allSatisfy({ head[index + $0] | 0x20 == name[$0] | 0x20 }) {
                var start = index + name.count
                while start < head.count, head[start] == 32 { start += 1 }
                var stop = start
                while stop < head.count, head[stop] != 13 { stop += 1 }
                return number(head[start..<stop])
            }
            index += 1
        }
        return nil
    }

    static func number(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
        guard !digits.isEmpty, digits.count < 10 else { return nil }
        var value = 0
        for digit in digits {
            guard (48...57).contains(digit) else { return nil }
            value = value * 10 + Int(digit - 48)
        }
        return value
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func rounded(_ value: Double, places: Int) -> String {
        let scale = Double((0..<places).reduce(1) { value, _ in value * 10 })
        let whole = Int((value * scale).rounded())
        let fraction = String(whole % Int(scale))
        return "\(whole / Int(scale)).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
    }

    /// A non-blocking connection to a Unix socket path or to `tcp:IPV4:PORT` (with Nagle off, as HTTP clients have it).
    static func dial(_ target: String) -> Int32 {
        let fd: Int32
        let result: Int32
        if target.hasPrefix("tcp:") {
            let parts = target.dropFirst(4).split(separator: ":")
            var address = sockaddr_in()
            guard parts.count == 2, let port = UInt16(parts[1]), inet_pton(AF_INET, String(parts[0]), &address.sin_addr) == 1 else {
                fail("tcp: takes IPV4:PORT, not \(target.dropFirst(4))", code: 64)
            }
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            guard target.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { fail("socket path too long: \(target)", code: 64) }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: target.utf8) }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard result == 0 else { fail("cannot connect to \(target): \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    static func fail(_ message: String, code: Int32 = 1) -> Never {
        let line = Array("claude-auth-load: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(code)
    }
}
