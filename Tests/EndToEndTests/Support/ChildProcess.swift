import CTestSupport
import Foundation

/// A child process started with `posix_spawn`, inheriting only standard input, output and error, and
/// reaped by its PID.
///
/// Foundation's `Process` lets concurrently spawned children inherit each other's descriptors, and waits for
/// exits through a shared monitor; with daemons started by parallel tests that made exits go unnoticed.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let exited = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`, the given environment, and the given descriptors as 0, 1 and 2.
    init(_ executable: String, _ arguments: [String], environment: [String: String], stdin: Int32, stdout: Int32, stderr: Int32) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        test_spawn_add_closefrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A clean signal state: nothing blocked, default dispositions.
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw HarnessError(description: "cannot start \(executable): \(String(cString: strerror(result)))") }
        self.pid = pid
        let thread = Thread { [self, pid] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            lock.withLock { exitStatus = code }
            exited.signal()
        }
        thread.start()
    }

    /// Whether the process has not exited yet.
    var isRunning: Bool { lock.withLock { exitStatus == nil } }

    /// The exit status (128 + signal for a killed process), or nil if it is still running after `timeout`.
    func wait(timeout: TimeInterval) -> Int32? {
        if let status = lock.withLock({ exitStatus }) { return status }
        guard exited.wait(timeout: .now() + timeout) == .success else { return nil }
        exited.signal()
        return lock.withLock { exitStatus }
    }

    /// Sends a signal.
    func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }
}

/// Opens a file for a child's output, created empty.
func openOutput(_ path: String) throws -> Int32 {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw HarnessError(description: "cannot create \(path)") }
    return fd
}

/// Reads one line from a pipe, waiting at most `timeout` seconds.
func readLine(from fd: Int32, timeout: Int) -> String? {
    var line: [UInt8] = []
    var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let deadline = Date().addingTimeInterval(TimeInterval(timeout))
    while true {
        let left = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
        guard left > 0, poll(&poller, 1, left) > 0 else { return nil }
        var byte: UInt8 = 0
        guard read(fd, &byte, 1) == 1 else { return nil }
        if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
        line.append(byte)
    }
}
