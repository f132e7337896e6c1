import ClaudeAuthCore

/// A credential file's bytes, as the store decodes them at start-up.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let identity = CredentialIdentity.apiKey(profile: "work")
    if let credential = CredentialStore.decode(Array(UnsafeBufferPointer(start: data, count: count)), as: identity) {
        // A decoded credential can be written back.
        _ = try? CredentialStore.encode(credential)
    }
    return 0
}
