import ClaudeAuthCore
import FoundationEssentials

/// A token endpoint's answer: the first byte picks the status, the rest is the body.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let statuses = [200, 201, 400, 401, 403, 429, 500, 503]
    let status = bytes.first.map { statuses[Int($0) % statuses.count] } ?? 200
    let result = TokenResponseParser.parse(
        status: status, body: Array(bytes.dropFirst()), retryAfter: String(decoding: bytes.prefix(4), as: UTF8.self),
        receivedAt: Date(timeIntervalSince1970: 1_800_000_000))
    if case .success(let tokens) = result {
        // What is accepted must be storable and read back.
        let credential = StoredCredential(identity: CredentialIdentity.apiKey(profile: "fuzz"), profile: "fuzz", tokens: tokens, storedAt: Date())
        guard let decoded = try? CredentialStore.decode(CredentialStore.encode(credential), as: credential.identity) else {
            fatalError("accepted tokens that the store cannot round-trip")
        }
        precondition(decoded.tokens?.accessToken == tokens.accessToken)
    }
    return 0
}
