import AsyncHTTPClient
import NIOSSL

extension HTTPClientRequest {
    /// Trusts the certificates in `caFile` (PEM) besides the system's, when a profile names one (`ca_file`).
    mutating func trust(caFile: String?) {
        guard let caFile else { return }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.file(caFile)]
        tlsConfiguration = tls
    }
}
