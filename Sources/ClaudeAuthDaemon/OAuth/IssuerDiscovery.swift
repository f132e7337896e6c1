#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AsyncHTTPClient
import ClaudeAuthCore
import Logging
import NIOCore
import NIOHTTP1

/// Reads each issuer's metadata (OpenID Connect Discovery, RFC 8414) and fills in the endpoints a profile does not
/// configure. What it read is kept in memory for a day and on disk, so a restart with the issuer down still serves
/// and refreshes; while the issuer cannot be read, the copy kept is used and the issuer asked again a few minutes on.
actor IssuerDiscovery {
    private struct Entry {
        var endpoints: OAuthEndpoints
        var checkAfter: Date
    }

    private let http: HTTPClient
    private let directory: String
    private let logger: Logger
    private let now: @Sendable () -> Date
    private var entries: [String: Entry] = [:]
    private var reading: [String: Task<Result<OAuthEndpoints, TokenEndpointFailure>, Never>] = [:]

    /// Metadata read with `http`, which must not follow redirects, and kept under `stateDirectory/issuers`.
    init(http: HTTPClient, stateDirectory: String, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.http = http
        self.directory = stateDirectory + "/issuers"
        self.logger = logger
        self.now = now
    }

    /// `settings` with the endpoints its issuer's metadata gives wherever the configuration gives none.
    func resolve(_ settings: OAuthSettings) async -> Result<OAuthSettings, TokenEndpointFailure> {
        guard let issuer = settings.issuer else { return .success(settings) }
        if let entry = entries[issuer], entry.checkAfter > now() {
            return .success(settings.filling(entry.endpoints))
        }
        // One read per issuer at a time: later callers wait for it, and it is settled once.
        let task =
            reading[issuer]
            ?? Task { [http, logger] in await settle(issuer, Self.read(issuer, settings: settings, http: http, logger: logger)) }
        reading[issuer] = task
        return await task.value.map { settings.filling($0) }
    }

    /// Keeps what a read found, or falls back on the copy kept: in memory, else on disk.
    private func settle(_ issuer: String, _ read: Result<OAuthEndpoints, TokenEndpointFailure>) -> Result<OAuthEndpoints, TokenEndpointFailure> {
        reading[issuer] = nil
        switch read {
        case .success(let endpoints):
            entries[issuer] = Entry(endpoints: endpoints, checkAfter: now().addingTimeInterval(86400))
            keep(endpoints, of: issuer)
            return .success(endpoints)
        case .failure(let failure):
            guard let kept = entries[issuer]?.endpoints ?? load(issuer) else { return .failure(failure) }
            logger.warning(
                "issuer metadata unreachable: using the copy kept",
                metadata: ["event": "issuer_metadata_kept", "issuer": "\(issuer)", "error": "\(failure.message)"])
            entries[issuer] = Entry(endpoints: kept, checkAfter: now().addingTimeInterval(300))
            return .success(kept)
        }
    }

    /// The first document of `documentURLs` that answers, checked; a 404 moves on to the next.
    private static func read(_ issuer: String, settings: OAuthSettings, http: HTTPClient, logger: Logger) async
        -> Result<OAuthEndpoints, TokenEndpointFailure>
    {
        var tried: [String] = []
        for url in IssuerMetadata.documentURLs(for: issuer) {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "accept", value: "application/json")
            request.trust(caFile: settings.caFile)
            let failure: String
            do {
                let response = try await http.execute(request, timeout: .seconds(Int64(settings.tokenTimeout)))
                let status = Int(response.status.code)
                switch status {
                case 200:
                    let body = try await response.body.collect(upTo: IssuerMetadata.maximumBodySize)
                    switch IssuerMetadata.parse(Array(buffer: body), issuer: issuer) {
                    case .success(let endpoints):
                        logger.info("issuer metadata read", metadata: ["event": "issuer_metadata_read", "issuer": "\(issuer)", "url": "\(url)"])
                        return .success(endpoints)
                    case .failure(let refusal):
                        failure = refusal.message
                    }
                case 404:
                    tried.append("\(url): 404")
                    continue
                case 300..<400:
                    failure = "it answered \(status), a redirect to \(response.headers.first(name: "location").map { ServerText.excerpt($0, limit: 200) } ?? "nowhere"), which is not followed"
                default:
                    failure = "it answered \(status)"
                }
            } catch is NIOTooManyBytesError {
                failure = "the document is larger than \(IssuerMetadata.maximumBodySize / 1024) KiB"
            } catch {
                failure = "cannot reach it: \(error)"
            }
            return .failure(Self.failure(issuer, "\(url): \(failure)"))
        }
        return .failure(Self.failure(issuer, tried.isEmpty ? "not a URL" : tried.joined(separator: "; ")))
    }

    private static func failure(_ issuer: String, _ detail: String) -> TokenEndpointFailure {
        TokenEndpointFailure(kind: .transient, message: "cannot read the metadata of the issuer \(issuer): \(detail)")
    }

    private func path(of issuer: String) -> String {
        "\(directory)/\(Fingerprint.sha256Hex(issuer)).json"
    }

    private func keep(_ endpoints: OAuthEndpoints, of issuer: String) {
        do {
            try FileIO.ensurePrivateDirectory(directory)
            try FileIO.writeAtomically(IssuerMetadata.document(endpoints, issuer: issuer), to: path(of: issuer))
        } catch {
            logger.warning("cannot keep the issuer's metadata", metadata: ["issuer": "\(issuer)", "error": "\(error)"])
        }
    }

    /// The copy kept on disk, if there is one and it still checks out.
    private func load(_ issuer: String) -> OAuthEndpoints? {
        let bytes: [UInt8]?
        do {
            bytes = try FileIO.readPrivate(path(of: issuer), limit: IssuerMetadata.maximumBodySize)
        } catch {
            logger.warning("cannot read the issuer's kept metadata", metadata: ["issuer": "\(issuer)", "error": "\(error)"])
            return nil
        }
        guard let bytes else { return nil }
        switch IssuerMetadata.parse(bytes, issuer: issuer) {
        case .success(let endpoints):
            return endpoints
        case .failure(let failure):
            logger.warning("the issuer's kept metadata is unusable", metadata: ["issuer": "\(issuer)", "error": "\(failure.message)"])
            return nil
        }
    }
}

extension OAuthSettings {
    /// These settings with `endpoints` wherever the configuration gives none: explicit keys win.
    fileprivate func filling(_ endpoints: OAuthEndpoints) -> OAuthSettings {
        var settings = self
        settings.endpoints = self.endpoints.filling(from: endpoints)
        return settings
    }
}
