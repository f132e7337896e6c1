import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import ClaudeAuthDaemon

/// The bytes the event loop writes past the encoder are the bytes NIO's encoder makes of the same answer.
@Suite("APIResponse")
struct APIResponseTests {
    @Test(
        "encoded(version:keepAlive:) matches HTTPResponseEncoder on parts(version:keepAlive:)",
        arguments: [(HTTPVersion.http1_1, true), (.http1_1, false), (.http1_0, true), (.http1_0, false)])
    func encodingsAgree(version: HTTPVersion, keepAlive: Bool) throws {
        let responses = [
            APIResponse.text("x-api-key: sk-ant-api03-x\nanthropic-version: 2023-06-01\n"),
            APIResponse.error(ServiceError(code: .notFound, message: "no such endpoint")),
        ]
        for response in responses {
            let channel = EmbeddedChannel(handler: HTTPResponseEncoder())
            for part in response.parts(version: version, keepAlive: keepAlive) { try channel.writeOutbound(part) }
            var encoder = ByteBuffer()
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) { encoder.writeBuffer(&buffer) }
            let mine = response.encoded(version: version, keepAlive: keepAlive, allocator: ByteBufferAllocator())
            #expect(String(buffer: mine) == String(buffer: encoder))
            _ = try channel.finish()
        }
    }
}
