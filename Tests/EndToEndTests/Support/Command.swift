import CTestSupport
import Foundation

/// What a finished process left behind.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A failure of the test harness itself (a process that would not start or finish in time).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
}

/// Runs a program to completion with the given environment and standard input, bounded in time.
func runCommand(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String],
    stdin: String? = nil,
    timeout: TimeInterval = 20
) throws -> CommandResult {
    try StartedCommand(executable, arguments, environment: environment, stdin: stdin).finish(timeout: timeout)
}

/// A program started with its output going to files, so many can run at once before they are waited for.
final class StartedCommand {
    private let directory = "/tmp/cmd-" + UUID().uuidString
    private let child: ChildProcess
    private let description: String

    init(_ executable: String, _ arguments: [String], environment: [String: String], stdin: String? = nil) throws {
        description = "\(executable) \(arguments)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let out = try openOutput(directory + "/out")
        let err = try openOutput(directory + "/err")
        var input: [Int32] = [0, 0]
        guard test_pipe_cloexec(&input) == 0 else { throw HarnessError(description: "pipe: \(errno)") }
        do {
            defer {
                close(out)
                close(err)
                close(input[0])
            }
            child = try ChildProcess(executable, arguments, environment: environment, stdin: input[0], stdout: out, stderr: err)
        }
        let bytes = Array((stdin ?? "").utf8)
        bytes.withUnsafeBytes { _ = write(input[1], $0.baseAddress, $0.count) }
        close(input[1])
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Waits for the program to exit, killing it after `timeout` seconds.
    func finish(timeout: TimeInterval = 20) throws -> CommandResult {
        guard let status = child.wait(timeout: timeout) else {
            child.signal(SIGKILL)
            throw HarnessError(description: "\(description) did not finish within \(timeout) s")
        }
        return CommandResult(
            status: status,
            stdout: try String(contentsOfFile: directory + "/out", encoding: .utf8),
            stderr: try String(contentsOfFile: directory + "/err", encoding: .utf8)
        )
    }
}
