import ClaudeAuthClient

/// What git writes to `claude-auth git-credential`, and the `KUBERNETES_EXEC_INFO` kubectl sets for `kube-credential`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let attributes = GitCredential.attributes(bytes)
    _ = attributes["host"].map { $0.lowercased() }
    _ = KubeCredential.apiVersion(environment: ["KUBERNETES_EXEC_INFO": String(decoding: bytes, as: UTF8.self)])
    return 0
}
