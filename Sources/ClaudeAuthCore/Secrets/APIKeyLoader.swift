#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI

/// Why a profile's API key cannot be served, as the socket API reports it.
public struct CredentialProblem: Error, Sendable, Equatable {
    /// The state `status` shows.
    public var state: ProfileState
    /// The error code clients get.
    public var code: ErrorCode
    /// What is wrong and what to do; never a secret.
    public var message: String

    /// Creates a problem.
    public init(state: ProfileState, code: ErrorCode, message: String) {
        self.state = state
        self.code = code
        self.message = message
    }
}

/// Loads the API key of an `api-key` profile from its source.
public struct APIKeyLoader: Sendable {
    /// The largest key file read.
    static let maximumKeySize = 16 * 1024

    /// The daemon's environment, for `key_env`.
    public var environment: [String: String]
    /// The credential store, for keys stored with `set-key`.
    public var store: CredentialStore

    /// Creates a loader.
    public init(environment: [String: String], store: CredentialStore) {
        self.environment = environment
        self.store = store
    }

    /// The key of `profile`, or what prevents serving it.
    public func load(profile: String, from source: APIKeySource) -> Result<Secret, CredentialProblem> {
        switch source {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                return .failure(
                    CredentialProblem(
                        state: .missingKey,
                        code: .missingAPIKey,
                        message: "profile \"\(profile)\" takes its key from $\(name), which is not set in claude-authd's "
                            + "environment: run `systemctl --user set-environment \(name)=…` and restart claude-authd, "
                            + "or remove key_env and run `claude-auth set-key --profile \(profile)`"
                    ))
            }
            return validated(value, profile: profile, origin: "$\(name)")
        case .file(let path):
            do {
                guard let bytes = try FileIO.readPrivate(path, limit: Self.maximumKeySize) else {
                    return .failure(
                        CredentialProblem(
                            state: .missingKey,
                            code: .missingAPIKey,
                            message: "key file \(path) of profile \"\(profile)\" does not exist"
                        ))
                }
                return validated(String(decoding: bytes, as: UTF8.self), profile: profile, origin: path)
            } catch {
                return .failure(CredentialProblem(state: .error, code: .missingAPIKey, message: "\(error)"))
            }
        case .stored:
            do {
                guard let key = try store.load(.apiKey(profile: profile))?.apiKey else {
                    return .failure(
                        CredentialProblem(
                            state: .missingKey,
                            code: .missingAPIKey,
                            message: "profile \"\(profile)\" has no key yet: run `claude-auth set-key --profile \(profile)`"
                        ))
                }
                return .success(key)
            } catch {
                return .failure(CredentialProblem(state: .error, code: .missingAPIKey, message: "\(error)"))
            }
        }
    }

    /// Trims surrounding white space and refuses a key that could not travel in a header.
    public static func normalize(_ value: String) -> String? {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0D).contains($0) }
        let bytes = value.utf8.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func validated(_ value: String, profile: String, origin: String) -> Result<Secret, CredentialProblem> {
        guard let key = Self.normalize(value) else {
            return .failure(
                CredentialProblem(
                    state: .error,
                    code: .missingAPIKey,
                    message: "the key in \(origin) for profile \"\(profile)\" is empty or holds spaces or control characters"
                ))
        }
        return .success(Secret(key))
    }
}
