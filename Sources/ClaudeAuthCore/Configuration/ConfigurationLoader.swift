import ClaudeAuthAPI
import TOMLKit

/// Reads `config.toml` into a ``Configuration``, rejecting anything it does not understand with the
/// file, line and column of the problem.
public struct ConfigurationLoader: Sendable {
    /// The largest configuration file read.
    static let maximumFileSize = 1 << 20

    /// The environment, for `~` in paths.
    public var environment: [String: String]

    /// Creates a loader.
    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// Loads the file at `path`; a missing file is an empty configuration.
    public func load(file path: String) throws(ConfigurationError) -> Configuration {
        let source: String
        do {
            guard let bytes = try FileIO.read(path, limit: Self.maximumFileSize) else { return Configuration() }
            source = String(decoding: bytes, as: UTF8.self)
        } catch {
            throw ConfigurationError(file: path, message: "cannot read the configuration: \(error)")
        }
        return try parse(source, file: path)
    }

    /// Parses a configuration document; `file` names it in errors.
    public func parse(_ source: String, file: String) throws(ConfigurationError) -> Configuration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: source)
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                file: file,
                line: error.source.begin.line,
                column: error.source.begin.column,
                message: "invalid TOML: \(error.description)"
            )
        } catch {
            throw ConfigurationError(file: file, message: "invalid TOML: \(error)")
        }
        return try Validator(file: file, locator: TOMLKeyLocator(source: source), environment: environment)
            .configuration(from: table)
    }
}

/// Turns a parsed TOML table into a configuration, one checked key at a time.
private struct Validator {
    let file: String
    let locator: TOMLKeyLocator
    let environment: [String: String]

    func configuration(from root: TOMLTable) throws(ConfigurationError) -> Configuration {
        try rejectUnknownKeys(in: root, at: [], allowed: ["default_profile", "profiles"])
        var profiles: [String: Profile] = [:]
        if let value = root["profiles"] {
            let table = try self.table(value, at: ["profiles"])
            for name in table.keys {
                profiles[name] = try profile(named: name, from: self.table(table[name]!, at: ["profiles", name]))
            }
        }
        var configuration = Configuration(profiles: profiles)
        if let value = root["default_profile"] {
            let name = try string(value, at: ["default_profile"])
            guard profiles[name] != nil else {
                throw error(at: ["default_profile"], "default_profile \"\(name)\" is not a configured profile")
            }
            configuration.defaultProfile = name
        }
        return configuration
    }

    private func profile(named name: String, from table: TOMLTable) throws(ConfigurationError) -> Profile {
        let path = ["profiles", name]
        guard Profile.isValidName(name) else {
            throw error(at: path, "invalid profile name \"\(name)\": use letters, digits, '.', '_' and '-' (at most 64)")
        }
        guard let kindValue = table["kind"] else {
            throw error(at: path, "profile \"\(name)\" has no kind: add kind = \"api-key\"")
        }
        let kindName = try string(kindValue, at: path + ["kind"])
        guard let kind = ProfileKind(rawValue: kindName) else {
            throw error(at: path + ["kind"], "unknown kind \"\(kindName)\": expected \"api-key\" or \"oauth\"")
        }
        switch kind {
        case .apiKey:
            try rejectUnknownKeys(in: table, at: path, allowed: ["kind", "key_env", "key_file", "headers"])
            return Profile(
                name: name,
                credential: .apiKey(try apiKeySource(in: table, at: path)),
                headers: try headers(in: table, at: path)
            )
        case .oauth:
            throw error(at: path + ["kind"], "kind \"oauth\" is not supported by this version of claude-authd")
        }
    }

    private func apiKeySource(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> APIKeySource {
        switch (table["key_env"], table["key_file"]) {
        case (.some, .some):
            throw error(at: path + ["key_file"], "set only one of key_env and key_file")
        case (.some(let value), nil):
            let name = try string(value, at: path + ["key_env"])
            guard !name.isEmpty, !name.contains("=") else {
                throw error(at: path + ["key_env"], "key_env must name an environment variable")
            }
            return .environment(name)
        case (nil, .some(let value)):
            let file = try string(value, at: path + ["key_file"])
            guard !file.isEmpty else { throw error(at: path + ["key_file"], "key_file must not be empty") }
            return .file(expandingTilde(file))
        case (nil, nil):
            return .stored
        }
    }

    private func headers(in table: TOMLTable, at path: [String]) throws(ConfigurationError) -> [HeaderField] {
        guard let value = table["headers"] else { return [] }
        let headers = try self.table(value, at: path + ["headers"])
        var fields: [HeaderField] = []
        for name in headers.keys.sorted() {
            let field = HeaderField(name: name, value: try string(headers[name]!, at: path + ["headers", name]))
            guard field.isValid else {
                throw error(at: path + ["headers", name], "header \"\(name)\" is not a valid HTTP header name and value")
            }
            fields.append(field)
        }
        return fields
    }

    private func rejectUnknownKeys(in table: TOMLTable, at path: [String], allowed: Set<String>) throws(ConfigurationError) {
        for key in table.keys.sorted() where !allowed.contains(key) {
            let expected = allowed.sorted().joined(separator: ", ")
            let place = path.isEmpty ? "at the top level" : "in [\(path.joined(separator: "."))]"
            throw error(at: path + [key], "unknown key \"\(key)\" \(place); expected one of: \(expected)")
        }
    }

    private func table(_ value: any TOMLValueConvertible, at path: [String]) throws(ConfigurationError) -> TOMLTable {
        guard let table = value.table else { throw typeError(value, at: path, expected: "a table") }
        return table
    }

    private func string(_ value: any TOMLValueConvertible, at path: [String]) throws(ConfigurationError) -> String {
        guard let string = value.string else { throw typeError(value, at: path, expected: "a string") }
        return string
    }

    private func typeError(_ value: any TOMLValueConvertible, at path: [String], expected: String) -> ConfigurationError {
        error(at: path, "\(path.joined(separator: ".")) must be \(expected), not \(Self.describe(value.type))")
    }

    private func error(at path: [String], _ message: String) -> ConfigurationError {
        let position = locator.position(of: path)
        return ConfigurationError(file: file, line: position?.line, column: position?.column, message: message)
    }

    private func expandingTilde(_ path: String) -> String {
        guard path.hasPrefix("~/"), let home = environment["HOME"] else { return path }
        return home + path.dropFirst()
    }

    private static func describe(_ type: TOMLType) -> String {
        switch type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a float"
        case .bool: "a boolean"
        default: "a date or time"
        }
    }
}

extension Profile {
    /// Whether `name` can name a profile: 1–64 of letters, digits, `.`, `_`, `-`, not starting with `.` or `-`.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.utf8.first, first != UInt8(ascii: "."),
            first != UInt8(ascii: "-")
        else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }
}

extension HeaderField {
    /// Whether the name is an RFC 9110 token and the value holds no control characters.
    public var isValid: Bool {
        let separators = Set("()<>@,;:\\\"/[]?={} \t".utf8)
        let nameIsToken = !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !separators.contains($0) }
        return nameIsToken && value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}
