import Foundation
import Testing

/// What `make install` turns into man pages and shell completions comes from the binaries themselves.
@Suite("man pages and completions")
struct ManualAndCompletionTests {
    @Test("both binaries write bash, zsh and fish completions that know every subcommand and option")
    func completions() throws {
        for shell in ["bash", "zsh", "fish"] {
            let client = try runCommand(Binaries.client, ["--generate-completion-script", shell], environment: [:])
            #expect(client.status == 0, "\(shell): \(client.stderr)")
            for word in ["header", "token", "login", "logout", "refresh", "status", "set-key", "doctor", "if-token-fingerprint"] {
                #expect(client.stdout.contains(word), "\(shell) completion lacks \(word)")
            }
            let daemon = try runCommand(Binaries.daemon, ["--generate-completion-script", shell], environment: [:])
            #expect(daemon.status == 0, "\(shell): \(daemon.stderr)")
            #expect(daemon.stdout.contains("check-config"), "\(shell)")
        }
    }

    @Test("both binaries describe themselves for the man page generator")
    func manualSource() throws {
        for (binary, command) in [(Binaries.client, "refresh"), (Binaries.daemon, "request-timeout")] {
            let dump = try runCommand(binary, ["--experimental-dump-help"], environment: [:])
            #expect(dump.status == 0)
            let json = try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any]
            #expect(json?["command"] != nil)
            #expect(dump.stdout.contains(command))
        }
    }
}
