#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ClaudeAuthAPI
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
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = String(parts[0])
        self.query = [:]
        guard parts.count == 2 else { return }
        for pair in parts[1].split(separator: "&") {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.percentDecode(keyValue[0]),
                let value = Self.percentDecode(keyValue.count == 2 ? keyValue[1] : "")
            else { throw .invalidRequest("the query string is not valid percent-encoding") }
            query[key] = value
        }
    }

    private static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
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
}
