#if canImport(Glibc)
import Glibc
#endif

/// Environment variables read by name: the process's own (``ProcessEnvironment``), or a dictionary of them.
public protocol EnvironmentVariables {
    subscript(_ name: String) -> String? { get }
}

extension Dictionary: EnvironmentVariables where Key == String, Value == String {}

/// The process environment, read without Foundation: by name with `getenv`, or whole as a dictionary.
///
/// The client's `header` and `token` read a few variables by name: building a `[String: String]` costs their start-up
/// a runtime lookup of `String`'s `Hashable` conformance, more than the rest of the call.
public struct ProcessEnvironment: EnvironmentVariables, Sendable {
    public init() {}

    public subscript(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The whole environment.
    public static func current() -> [String: String] {
        var count = 0
        while environ[count] != nil { count += 1 }
        var environment: [String: String] = [:]
        environment.reserveCapacity(count)
        // Split at the first "=" by byte: characters cost more.
        for index in 0..<count {
            guard let entry = environ[index], let equals = strchr(entry, Int32(UInt8(ascii: "="))) else { continue }
            let name = UnsafeRawBufferPointer(start: entry, count: equals - entry)
            environment[String(decoding: name, as: UTF8.self)] = String(cString: equals + 1)
        }
        return environment
    }
}
