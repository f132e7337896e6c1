import CSystemd
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A log handler that writes to the systemd journal with structured fields.
///
/// Metadata keys become journal fields in upper case (`profile` → `PROFILE=`), and are also appended to the
/// message so that plain `journalctl` output shows them.
public struct JournalLogHandler: LogHandler {
    /// The handler's metadata.
    public var metadata: Logger.Metadata = [:]
    /// The handler's level.
    public var logLevel: Logger.Level = .info
    /// The handler's metadata provider.
    public var metadataProvider: Logger.MetadataProvider?

    private let identifier: String

    /// A handler that logs as `SYSLOG_IDENTIFIER=identifier`.
    public init(identifier: String) {
        self.identifier = identifier
    }

    /// Whether standard error is the journal's stream (`JOURNAL_STREAM` matches it), as under systemd.
    public static func isStandardErrorJournal(environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Sends one entry to the journal.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }

        var message = event.message.description
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            message += " \(key)=\(value)"
        }
        var fields = [
            "MESSAGE=\(message)",
            "PRIORITY=\(Self.priority(event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
        ]
        for (key, value) in merged {
            if let name = Self.fieldName(key) { fields.append("\(name)=\(value)") }
        }
        Self.send(fields)
    }

    /// The metadata of the handler.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static func send(_ fields: [String]) {
        let copies = fields.map { strdup($0)! }
        defer { copies.forEach { free($0) } }
        let vectors = copies.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0)) }
        _ = sd_journal_sendv(vectors, Int32(vectors.count))
    }

    /// A journal field name: `[A-Z0-9_]`, not starting with `_` or a digit; nil when nothing is left.
    static func fieldName(_ key: String) -> String? {
        let name = String(key.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
            .drop { $0 == "_" || $0.isNumber }
        return name.isEmpty ? nil : String(name.prefix(64))
    }

    private static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
