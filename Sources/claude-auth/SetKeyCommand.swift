import ArgumentParser
import ClaudeAuthAPI
import ClaudeAuthClient

#if canImport(Glibc)
import Glibc
#endif

/// `claude-auth set-key`: stores an API key read from stdin, never from argv.
struct SetKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-key",
        abstract: "Store an API key for an api-key profile, read from stdin.",
        discussion: "printf %s \"$KEY\" | claude-auth set-key --profile api   (on a terminal, the key is read without echo)"
    )

    @OptionGroup var options: GlobalOptions

    static let maximumKeySize = 16 * 1024

    func run() throws {
        try reportingErrors { () throws(ClientError) in
            let key = isatty(STDIN_FILENO) == 1 ? try promptHidden() : try readStandardInput()
            let profile = try options.client().storeKey(key, profile: options.profile)
            StandardStream.error("stored the key of profile \"\(profile.name)\" (fingerprint \(profile.fingerprint ?? "-"))\n")
        }
    }

    private func readStandardInput() throws(ClientError) -> [UInt8] {
        guard let bytes = StandardStream.readAll(limit: Self.maximumKeySize) else {
            throw .usage("the key on stdin is longer than \(Self.maximumKeySize) bytes")
        }
        return bytes
    }

    private func promptHidden() throws(ClientError) -> [UInt8] {
        StandardStream.error("API key for profile \(options.profile ?? "(default)") (input hidden): ")
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var hidden = saved
        hidden.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &hidden)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            StandardStream.error("\n")
        }
        guard let line = readLine(strippingNewline: true) else { throw .usage("no key was entered") }
        return Array(line.utf8)
    }
}
