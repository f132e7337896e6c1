#if canImport(Glibc)
import Glibc
#endif

/// The process environment as a dictionary, read without Foundation.
public enum ProcessEnvironment {
    /// The current environment.
    public static func current() -> [String: String] {
        var environment: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return environment
    }
}
