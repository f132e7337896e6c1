import ClaudeAuthCore

/// An authorization server's other answers: any bytes as the issuer's metadata document, and as the device
/// authorization endpoint's answer (the first byte picks the status).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    let issuer = "https://idp.example.com/tenant"
    if case .success(let endpoints) = IssuerMetadata.parse(bytes, issuer: issuer) {
        // What is accepted must be kept and read back the same.
        guard case .success(let kept) = IssuerMetadata.parse(IssuerMetadata.document(endpoints, issuer: issuer), issuer: issuer), kept == endpoints else {
            fatalError("accepted metadata that does not survive being kept")
        }
    }
    let statuses = [200, 400, 401, 429, 500]
    let status = bytes.first.map { statuses[Int($0) % statuses.count] } ?? 200
    _ = DeviceAuthorization.parse(status: status, body: Array(bytes.dropFirst()))
    return 0
}
