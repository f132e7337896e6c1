#if canImport(Glibc)
import Glibc
#endif

/// Runs other programs: `claude-authd --check-config` for doctor, the browser for login.
public enum Subprocess {
    /// Starts a program without waiting for it, its output discarded: for `xdg-open`.
    public static func start(_ arguments: [String]) -> Bool {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        return posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ) == 0
    }

    /// Runs a program to completion; returns its exit status and what it printed.
    static func run(_ arguments: [String]) -> (status: Int32, output: String) {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { return (-1, "cannot create a pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        close(pipeFDs[1])
        defer { close(pipeFDs[0]) }
        guard spawned == 0 else { return (-1, "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            output += chunk[..<count]
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let exited = status & 0x7F == 0
        return (exited ? (status >> 8) & 0xFF : -1, String(decoding: output, as: UTF8.self))
    }
}

extension Subprocess {
    /// Replaces this process with `arguments[0]`, looked up in `PATH`, with `environment`: its exit status and
    /// signals become the command's own. Returns only when the program cannot be run (127 not found, 126 not runnable).
    public static func exec(_ arguments: [String], environment: [String: String]) -> ClientError {
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var code = ENOENT
        for candidate in searchPath(arguments[0], path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") {
            execve(candidate, &argv, &envp)
            // As execvp: a file found but not runnable is reported unless a later one runs.
            if errno != ENOENT && errno != ENOTDIR { code = errno }
        }
        return ClientError(exitCode: code == ENOENT ? 127 : 126, message: "cannot run \(arguments[0]): \(String(cString: strerror(code)))")
    }

    /// Where `name` may be: itself when it has a slash, else in each directory of `path`.
    private static func searchPath(_ name: String, path: String) -> [String] {
        if name.contains("/") { return [name] }
        return path.split(separator: ":", omittingEmptySubsequences: false).map { directory in
            (directory.isEmpty ? "." : String(directory)) + "/" + name
        }
    }
}
