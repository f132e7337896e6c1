#if canImport(Glibc)
import Glibc
#endif

/// The process environment as a dictionary, read without Foundation.
public enum ProcessEnvironment {
    /// The current environment.
    public static func current() -> [String: String] {
        var count = 0
        while environ[count] != nil { count += 1 }
        var environment: [String: String] = [:]
        environment.reserveCapacity(count)
        // Split at the first "=" by byte: the client reads this on every start, and characters cost more.
        for index in 0..<count {
            guard let entry = environ[index], let equals = strchr(entry, Int32(UInt8(ascii: "="))) else { continue }
            let name = UnsafeRawBufferPointer(start: entry, count: equals - entry)
            environment[String(decoding: name, as: UTF8.self)] = String(cString: equals + 1)
        }
        return environment
    }
}
