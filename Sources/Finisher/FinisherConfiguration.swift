import Foundation
import Spool

/// The Finisher's settings from the environment (DESIGN.md §6).
struct FinisherConfiguration: Sendable {
    var spoolRoot: String
    var dataRoot: String
    var slots: Int
    var deadline: TimeInterval
    var notifyHorizon: TimeInterval
    var publicURL: String
    var forge: String
    var authorName: String
    var authorEmail: String
    /// Every secret the service holds, for the scanner (never logged).
    var secrets: [String]
    /// Test-only: kill this process with SIGKILL right after journaling this stage.
    var killAfter: Stage?

    init(environment: ServiceEnvironment) throws(ConfigurationError) {
        spoolRoot = environment.spoolRoot
        dataRoot = environment.dataRoot
        slots = try environment.slots()
        deadline = TimeInterval(try environment.integer("LLM_DEPLOY_DEADLINE", default: 600, in: 10...86_400))
        notifyHorizon = TimeInterval(try environment.integer("LLM_DEPLOY_NOTIFY_HORIZON", default: 3600, in: 1...604_800))
        publicURL = environment["LLM_DEPLOY_PUBLIC_URL"] ?? "http://127.0.0.1:8080"
        forge = environment["LLM_DEPLOY_FORGE"] ?? "local"
        guard forge == "local" else {
            throw ConfigurationError(variable: "LLM_DEPLOY_FORGE", reason: "must be local (the GitHub forge is not built yet), not \(forge)")
        }
        authorName = environment["LLM_DEPLOY_GIT_AUTHOR_NAME"] ?? "llm-deploy"
        authorEmail = environment["LLM_DEPLOY_GIT_AUTHOR_EMAIL"] ?? "llm-deploy@localhost"
        var secrets: [String] = []
        for name in ["LLM_DEPLOY_SECRET", "GITHUB_TOKEN", "OPENAI_API_KEY"] {
            if let value = try environment.secret(name) { secrets.append(value) }
        }
        self.secrets = secrets
        killAfter = environment["LLM_DEPLOY_TEST_KILL_AFTER"].flatMap(Stage.init(rawValue:))
    }
}
