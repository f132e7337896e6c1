/// A hand-written parser for the hot commands, `header` and `token` with their common options.
///
/// The argument parser's reflection costs about a millisecond per start, more than the rest of a `header`
/// call; the shell tools that call the client on every request should not pay it. Anything this parser
/// does not recognise (help, `--json`, other commands, mistakes) goes to the argument parser instead.
public enum FastPath {
    /// A hot command.
    public enum Command: Sendable, Equatable {
        case header, token
    }

    /// The command and request, or nil when the arguments are not a plain hot-command call.
    public static func parse(_ arguments: [String]) -> (Command, CredentialRequest)? {
        var command: Command?
        var request = CredentialRequest()
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "header", "token":
                guard command == nil else { return nil }
                command = argument == "header" ? .header : .token
            case "--no-env":
                request.ignoresEnvironment = true
            case "--profile", "--socket", "--format", "--min-validity":
                guard index < arguments.endIndex, !arguments[index].hasPrefix("-"),
                    apply(argument, arguments[index], to: &request)
                else { return nil }
                index += 1
            default:
                guard let equals = argument.firstIndex(of: "="), argument.hasPrefix("--"),
                    apply(String(argument[..<equals]), String(argument[argument.index(after: equals)...]), to: &request)
                else { return nil }
            }
        }
        guard let command, command == .header || request.format == .http else { return nil }
        return (command, request)
    }

    private static func apply(_ option: String, _ value: String, to request: inout CredentialRequest) -> Bool {
        guard !value.isEmpty else { return false }
        switch option {
        case "--profile": request.profile = value
        case "--socket": request.socket = value
        case "--format":
            guard let format = HeaderFormat(rawValue: value) else { return false }
            request.format = format
        case "--min-validity":
            guard let seconds = Int(value), (0...86400).contains(seconds) else { return false }
            request.minimumValidity = seconds
        default: return false
        }
        return true
    }
}
