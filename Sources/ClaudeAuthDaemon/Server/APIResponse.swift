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
        // By byte: "?" is ASCII, and this runs for every request.
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else {
            self.path = target
            self.query = [:]
            return
        }
        self.path = String(target[..<question])
        guard let query = QueryString.decode(target[target.utf8.index(after: question)...]) else {
            throw .invalidRequest("the query string is not valid percent-encoding")
        }
        self.query = query
    }
}

/// A response: status, content type and body.
struct APIResponse: Sendable, Equatable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    static let textType = "text/plain; charset=utf-8"
    static let jsonType = "application/json"

    /// Every answer's headers but its length, made once per content type.
    private static let fixedHeaders: [String: HTTPHeaders] = Dictionary(
        uniqueKeysWithValues: [textType, jsonType].map { ($0, ["content-type": $0, "cache-control": "no-store"]) })

    static func text(_ text: String) -> APIResponse {
        APIResponse(status: .ok, contentType: textType, body: Array(text.utf8))
    }

    static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) -> APIResponse {
        do {
            var body = Array(try JSONEncoder.api().encode(value))
            body.append(UInt8(ascii: "\n"))
            return APIResponse(status: status, contentType: jsonType, body: body)
        } catch {
            return .error(ServiceError(code: .internalError, message: "cannot encode the answer"))
        }
    }

    static func error(_ error: ServiceError) -> APIResponse {
        json(error.envelope, status: error.status)
    }

    /// The response as the bytes on the wire, for ``FrontHandler`` to write past the encoder: the same status line
    /// and headers as ``parts(version:keepAlive:)`` gives the encoder.
    func encoded(version: HTTPVersion, keepAlive: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 160 + body.count)
        if version == .http1_1 {
            buffer.writeStaticString("HTTP/1.1 ")
        } else {
            buffer.writeString("HTTP/\(version.major).\(version.minor) ")
        }
        buffer.writeString(String(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reasonPhrase)
        buffer.writeStaticString("\r\ncontent-type: ")
        buffer.writeString(contentType)
        buffer.writeStaticString("\r\ncache-control: no-store\r\ncontent-length: ")
        buffer.writeString(String(body.count))
        buffer.writeStaticString(keepAlive ? "\r\n\r\n" : "\r\nconnection: close\r\n\r\n")
        buffer.writeBytes(body)
        return buffer
    }

    /// The response as HTTP/1.1 parts, to write at once: head, body, end.
    func parts(version: HTTPVersion, keepAlive: Bool) -> [HTTPServerResponsePart] {
        var headers = Self.fixedHeaders[contentType] ?? ["content-type": contentType, "cache-control": "no-store"]
        headers.add(name: "content-length", value: String(body.count))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        return [
            .head(HTTPResponseHead(version: version, status: status, headers: headers)),
            .body(.byteBuffer(ByteBuffer(bytes: body))),
            .end(nil),
        ]
    }
}
