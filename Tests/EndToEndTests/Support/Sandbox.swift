import Foundation

/// A private home for one test: runtime, config and state directories, and the environment that points at them.
final class Sandbox {
    let root: String

    init() throws {
        // Short paths: a Unix socket path holds at most 107 bytes.
        root = "/tmp/ca-" + String(UUID().uuidString.prefix(8))
        for directory in ["run", "config/claude-auth", "state"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        chmod(root, 0o700)
        chmod("\(root)/run", 0o700)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    var socketPath: String { "\(root)/run/claude-auth/socket" }
    var configPath: String { "\(root)/config/claude-auth/config.toml" }
    var stateDirectory: String { "\(root)/state/claude-auth" }

    /// A clean environment for the daemon and the client, pointing at this sandbox.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": root,
            "XDG_RUNTIME_DIR": "\(root)/run",
            "XDG_CONFIG_HOME": "\(root)/config",
            "XDG_STATE_HOME": "\(root)/state",
        ]
        environment.merge(extra) { $1 }
        return environment
    }

    func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Writes a file with the given mode.
    func writeFile(_ name: String, _ text: String, mode: mode_t = 0o600) throws -> String {
        let path = "\(root)/\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    /// Runs the client against this sandbox.
    func client(_ arguments: [String], environment extra: [String: String] = [:], stdin: String? = nil) throws -> CommandResult {
        try runCommand(Binaries.client, arguments, environment: environment(extra), stdin: stdin)
    }

    /// Runs curl against the sandbox's socket.
    func curl(_ arguments: [String]) throws -> CommandResult {
        try runCommand(which("curl")!, ["-sS", "--unix-socket", socketPath] + arguments, environment: environment())
    }

    func mode(of path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    /// A self-signed certificate for 127.0.0.1 and its key, as PEM files in the sandbox: for TLS servers of a test's own.
    func selfSignedCertificate() throws -> (certificate: String, key: String) {
        let certificate = root + "/cert.pem"
        let key = root + "/key.pem"
        let made = try runCommand(
            which("openssl")!,
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", certificate,
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1"],
            environment: ["PATH": "/usr/bin:/bin"])
        guard made.status == 0 else { throw HarnessError(description: "openssl: \(made.stderr)") }
        return (certificate, key)
    }
}
