#if canImport(Glibc)
import Glibc
#endif

/// The XDG locations of the configuration and the state (DESIGN §1).
public enum DefaultPaths {
    /// `$XDG_CONFIG_HOME/claude-auth/config.toml`, default `~/.config/claude-auth/config.toml`.
    public static func configFile(environment: [String: String]) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home(environment) + "/.config"
        return base + "/claude-auth/config.toml"
    }

    /// `$STATE_DIRECTORY` under systemd, else `$XDG_STATE_HOME/claude-auth`, default `~/.local/state/claude-auth`.
    public static func stateDirectory(environment: [String: String]) -> String {
        if let systemd = environment["STATE_DIRECTORY"], let first = systemd.split(separator: ":").first {
            return String(first)
        }
        let base = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home(environment) + "/.local/state"
        return base + "/claude-auth"
    }

    /// `$HOME`, else the password database's home directory.
    public static func home(_ environment: [String: String]) -> String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        guard let entry = getpwuid(geteuid()), let directory = entry.pointee.pw_dir else { return "/" }
        return String(cString: directory)
    }
}
