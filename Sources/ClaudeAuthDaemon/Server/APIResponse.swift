#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
import ClaudeAuthCore
import NIOCore
import NIOHTTP1

/// A request as the router sees it: method, path, query parameters and body.
struct APIRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var query: [String: String]
    var body: [UInt8]

    /// Splits a request target (`/v1/header?profile=api`) into path and percent-decoded query parameters.
    init(method: HTTPMethod, target: String, body: [UInt8] = []) throws(ServiceError) {
        self.method = method
        self.body = body
        let question = target.firstIndex(of: "?") ?? target.endIndex
        self.path = String(target[..<question])
        guard question < target.endIndex else {
            self.query = [:]
            return
        }
        guard let query = QueryString.decode(target[target.index(after: question)...]) else {
            throw .invalidRequest("the query string is not valid percent-encoding")
        }
        self.query = query
    }
}

/// A response: status, content type and body.
struct APIResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    static func text(_ text: String) -> APIResponse {
        APIResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) -> APIResponse {
        do {
            var body = Array(try JSONEncoder.api().encode(value))
            body.append(UInt8(ascii: "\n"))
            return APIResponse(status: status, contentType: "application/json", body: body)
        } catch {
            return .error(ServiceError(code: .internalError, message: "cannot encode the answer"))
        }
    }

    static func error(_ error: ServiceError) -> APIResponse {
        json(error.envelope, status: error.status)
    }

    /// The response as HTTP/1.1 parts, to write at once: head, body, end.
    func parts(version: HTTPVersion, keepAlive: Bool) -> [HTTPServerResponsePart] {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "cache-control", value: "no-store")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        return [
            .head(HTTPResponseHead(version: version, status: status, headers: headers)),
            .body(.byteBuffer(ByteBuffer(bytes: body))),
            .end(nil),
        ]
    }
}
