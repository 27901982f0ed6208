import Foundation
import Testing
@testable import Spool

@Suite struct ServiceEnvironmentTests {
    @Test func readsSecretsFromFiles() throws {
        let directory = Fixtures.temporaryDirectory()
        try "from-file\n".write(toFile: "\(directory)/secret", atomically: true, encoding: .utf8)
        #expect(try ServiceEnvironment(["S": "direct"]).secret("S") == "direct")
        #expect(try ServiceEnvironment(["S_FILE": "\(directory)/secret"]).secret("S") == "from-file")
        #expect(try ServiceEnvironment([:]).secret("S") == nil)
        #expect(throws: ConfigurationError.self) { try ServiceEnvironment(["S": "a", "S_FILE": "\(directory)/secret"]).secret("S") }
        #expect(throws: ConfigurationError.self) { try ServiceEnvironment(["S_FILE": "\(directory)/absent"]).secret("S") }
    }

    @Test func parsesSizesAndNumbers() throws {
        #expect(try ServiceEnvironment([:]).byteCount("M", default: 7) == 7)
        #expect(try ServiceEnvironment(["M": "25m"]).byteCount("M", default: 0) == 25 << 20)
        #expect(try ServiceEnvironment(["M": "512KiB"]).byteCount("M", default: 0) == 512 << 10)
        #expect(try ServiceEnvironment(["M": "1000"]).byteCount("M", default: 0) == 1000)
        #expect(throws: ConfigurationError.self) { try ServiceEnvironment(["M": "lots"]).byteCount("M", default: 0) }
        #expect(try ServiceEnvironment(["N": "4"]).integer("N", default: 2, in: 1...8) == 4)
        #expect(throws: ConfigurationError.self) { try ServiceEnvironment(["N": "0"]).integer("N", default: 2, in: 1...8) }
    }

    @Test func readsPerSenderSecretsAndRefusesEmptyOnes() throws {
        let directory = Fixtures.temporaryDirectory()
        let path = "\(directory)/senders.json"
        #expect(try ServiceEnvironment([:]).senderSecrets().isEmpty)
        try #"{"a@example.com": "alpha-secret", "b@example.com": "beta-secret"}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try ServiceEnvironment(["LLM_DEPLOY_SECRETS_FILE": path]).senderSecrets()
            == ["a@example.com": "alpha-secret", "b@example.com": "beta-secret"])
        for bad in [#"{"a@example.com": ""}"#, #"["a@example.com"]"#, #"{"a@example.com": 7}"#, "not json"] {
            try bad.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: ConfigurationError.self, "\(bad)") { try ServiceEnvironment(["LLM_DEPLOY_SECRETS_FILE": path]).senderSecrets() }
        }
    }

    @Test func derivesPathsFromHome() {
        let environment = ServiceEnvironment(["LLM_DEPLOY_HOME": "/srv/x"])
        #expect(environment.spoolRoot == "/srv/x/spool")
        #expect(environment.dataRoot == "/srv/x/data")
        #expect(ServiceEnvironment(["LLM_DEPLOY_HOME": "/srv/x", "LLM_DEPLOY_SPOOL": "/q"]).spoolRoot == "/q")
    }
}
