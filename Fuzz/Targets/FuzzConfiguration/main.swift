import ClaudeAuthCore

/// Any bytes as `config.toml`: a located error or a configuration, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let loader = ConfigurationLoader(environment: ["HOME": "/home/fuzz"])
    _ = try? loader.parse(Array(UnsafeBufferPointer(start: data, count: count)), file: "config.toml")
    return 0
}
