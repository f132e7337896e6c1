import Foundation

/// The built executables under test: `$CLAUDE_AUTH_BIN_DIR` (set by `make test`), else `.build/debug`.
enum Binaries {
    static let directory: String = {
        if let directory = ProcessInfo.processInfo.environment["CLAUDE_AUTH_BIN_DIR"], !directory.isEmpty {
            return directory
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }()

    static var daemon: String { directory + "/claude-authd" }
    static var client: String { directory + "/claude-auth" }

    /// The repository's root, for the unit files.
    static let repositoryRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// Finds a program on PATH.
func which(_ program: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
