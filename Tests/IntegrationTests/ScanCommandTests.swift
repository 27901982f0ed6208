import Foundation
import Testing
import TestSupport

/// `llm-deploy-finisher scan PATH…`: the secret gate as an operator command.
@Suite struct ScanCommandTests {
    func scan(_ paths: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let home = Paths.temporaryDirectory("scan")
        let child = try ChildProcess(Paths.product("llm-deploy-finisher"), ["scan"] + paths,
                                     environment: environment, logPath: "\(home)/out")
        let status = try #require(child.waitForExit(timeout: 30))
        return (status, child.log)
    }

    @Test func reportsFindingsWithoutTheSecretAndExitsOne() throws {
        let directory = Paths.temporaryDirectory("scan-tree")
        let secret = "operator-secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(directory)/js", withIntermediateDirectories: true)
        try "<h1>hello</h1>\n".write(toFile: "\(directory)/index.html", atomically: true, encoding: .utf8)
        try "let a = 1;\nconst key = '\(secret)';\n".write(toFile: "\(directory)/js/app.js", atomically: true, encoding: .utf8)
        let (status, output) = try scan([directory], environment: ["LLM_DEPLOY_SECRET": secret])
        #expect(status == 1)
        #expect(output.contains("js/app.js:2: configured-secret"), "\(output)")
        #expect(!output.contains(secret))
    }

    @Test func cleanTreesExitZero() throws {
        let directory = Paths.temporaryDirectory("scan-clean")
        try "<h1>hello</h1>\n".write(toFile: "\(directory)/index.html", atomically: true, encoding: .utf8)
        let (status, output) = try scan([directory])
        #expect(status == 0)
        #expect(output.isEmpty)
    }
}
