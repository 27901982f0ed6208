import Foundation
import Testing
import TestSupport

/// `llm-deploy-finisher doctor` against a running stack and the GitHub emulator.
@Suite(.serialized) struct DoctorCommandTests {
    @Test func aHealthyLocalStackPassesEveryCheck() throws {
        let evaluator = try Peer("evaluator.py")
        try withStack { stack in
            let run = try stack.finisher(["doctor", "--nginx-conf", "\(stack.home)/nginx.conf", "--evaluator", "\(evaluator.url)/n"])
            #expect(run.status == 0, "\(run.log)")
            for check in ["configuration", "request secret", "spool", "data directory", "git", "nginx", "forge", "LLM", "chromium", "evaluator"] {
                #expect(run.log.contains("ok    \(check):"), "\(check) missing: \(run.log)")
            }
            #expect(!run.log.contains(stack.secret))
        }
    }

    @Test func aRefusedTokenAndAnUnreachableEvaluatorFail() throws {
        let root = Paths.temporaryDirectory("doctor-github")
        let github = try Peer("github_emulator.py", ["--root", root, "--token", "ghp_\(String(repeating: "a", count: 36)):octo:repo"])
        try withStack(environment: ["LLM_DEPLOY_FORGE": "github", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": "ghp_\(String(repeating: "b", count: 36))"]) { stack in
            let run = try stack.finisher(["doctor", "--nginx-conf", "\(stack.home)/nginx.conf", "--evaluator", "http://127.0.0.1:9/n"])
            #expect(run.status == 1)
            #expect(run.log.contains("FAIL  forge: GitHub refused the token (HTTP 401); check GITHUB_TOKEN"), "\(run.log)")
            #expect(run.log.contains("FAIL  evaluator:"))
            #expect(!run.log.contains("bbbbbbbbbbbbbbbb"))
        }
        try withStack(environment: ["LLM_DEPLOY_FORGE": "github", "GITHUB_API_URL": github.url, "GITHUB_TOKEN": "ghp_\(String(repeating: "a", count: 36))"]) { stack in
            let run = try stack.finisher(["doctor", "--nginx-conf", "\(stack.home)/nginx.conf"])
            #expect(run.status == 0, "\(run.log)")
            #expect(run.log.contains("accepts the token of octo; without the workflow scope"), "\(run.log)")
        }
    }
}
