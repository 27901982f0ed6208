import Testing
@testable import Spool

@Suite struct DigestAndSecretTests {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// FIPS 180-4 / NIST CSRC example vectors, including a two-block message and a million bytes.
    @Test func sha256MatchesPublishedVectors() {
        #expect(hex(SHA256.hash("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.hash(repeatElement(UInt8(ascii: "a"), count: 1_000_000)))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func taskIDIsStableAndSensitiveToEveryField() {
        let base = TaskID(email: "a@b.c", task: "t", round: 1, nonce: "n")
        #expect(base == TaskID(email: "a@b.c", task: "t", round: 1, nonce: "n"))
        #expect(base.rawValue.count == 32)
        #expect(TaskID(base.rawValue) == base)
        let variants = [
            TaskID(email: "a@b.d", task: "t", round: 1, nonce: "n"),
            TaskID(email: "a@b.c", task: "u", round: 1, nonce: "n"),
            TaskID(email: "a@b.c", task: "t", round: 2, nonce: "n"),
            TaskID(email: "a@b.c", task: "t", round: 1, nonce: "m"),
            // Field boundaries matter: moving a character from one field to the next changes the ID.
            TaskID(email: "a@b.", task: "ct", round: 1, nonce: "n"),
        ]
        #expect(Set(variants + [base]).count == variants.count + 1)
    }

    @Test func taskIDParsingRefusesAnythingElse() {
        for text in ["", "../../etc/passwd", String(repeating: "A", count: 32), String(repeating: "a", count: 31), String(repeating: "g", count: 32)] {
            #expect(TaskID(text) == nil)
        }
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals(Array("secret".utf8), Array("secret".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secreT".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secret2".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("".utf8)))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
        // A longer input that shares the shorter one's bytes plus zeros must still differ.
        #expect(!ConstantTime.equals([1, 2], [1, 2, 0]))
    }
}
