import ClaudeAuthCore

/// What a user pastes into `claude-auth login --manual`, and the query of a redirect to the login listener.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    _ = PastedCode.parameters(text)
    _ = QueryString.decode(text[...])
    _ = ServerText.excerpt(text, hiding: [Secret("rt-0123456789abcdef")])
    return 0
}
