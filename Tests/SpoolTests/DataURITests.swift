import Testing
@testable import Spool

@Suite struct DataURITests {
    @Test func decodesBase64() throws {
        let uri = try DataURI(parsing: "data:text/csv;base64,YSxiCjEsMgo=")
        #expect(uri.mediaType == "text/csv")
        #expect(uri.isBase64)
        #expect(try uri.bytes() == Array("a,b\n1,2\n".utf8))
    }

    @Test func decodesPercentEncoding() throws {
        let uri = try DataURI(parsing: "data:,A%20brief%0A")
        #expect(uri.mediaType == "text/plain;charset=US-ASCII")
        #expect(!uri.isBase64)
        #expect(try uri.bytes() == Array("A brief\n".utf8))
    }

    @Test func keepsParameters() throws {
        let uri = try DataURI(parsing: "DATA:text/plain;charset=utf-8;base64,w6k=")
        #expect(uri.mediaType == "text/plain;charset=utf-8")
        #expect(try uri.bytes() == [0xC3, 0xA9])
    }

    @Test func binaryRoundTrip() throws {
        let bytes = (0...255).map(UInt8.init)
        let encoded = "data:application/octet-stream;base64," + Base64.encode(bytes)
        #expect(try DataURI(parsing: encoded).bytes() == bytes)
    }

    @Test(arguments: ["http://x", "data", "data:text/plain", "data:a/b/c,x", "data:text/plain;=x,a", "data:;base64,%%%%"])
    func refusesMalformed(_ text: String) {
        #expect(throws: RequestError.self) { try DataURI(parsing: text).bytes() }
    }
}

/// Base64 for test data, written out so the test does not check the decoder against itself.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        for start in stride(from: 0, to: bytes.count, by: 3) {
            let chunk = Array(bytes[start..<min(start + 3, bytes.count)]) + [0, 0]
            let value = UInt32(chunk[0]) << 16 | UInt32(chunk[1]) << 8 | UInt32(chunk[2])
            let count = min(3, bytes.count - start)
            for index in 0..<4 {
                out.append(index <= count ? alphabet[Int(value >> UInt32(18 - 6 * index) & 63)] : "=")
            }
        }
        return out
    }
}
