import Fetch
import Foundation
import SiteCheck
import Spool

/// The Finisher's settings from the environment (every variable is in the README's configuration table).
struct FinisherConfiguration: Sendable {
    var spoolRoot: String
    var dataRoot: String
    var slots: Int
    var deadline: TimeInterval
    var notifyHorizon: TimeInterval
    /// One notification attempt's limit.
    var notifyTimeout: TimeInterval
    var publicURL: String
    var forge: ForgeSettings
    var authorName: String
    var authorEmail: String
    /// Every secret the service holds, for the scanner (never logged).
    var secrets: [String]
    /// `LLM_DEPLOY_CHECKS` (`on`, default, or `off`): run the brief's checks in headless
    /// Chromium before publishing.
    var checksEnabled: Bool
    /// `LLM_DEPLOY_CHECK_ATTEMPTS`: trees checked per task, the first and its repairs.
    var checkAttempts: Int
    /// The LLM endpoint; `nil` without a key (the offline template generates).
    var llm: LLMSettings?
    /// `LLM_DEPLOY_FETCH_ALLOW`: non-public hosts `fetch_url` and attachment URLs may still reach.
    var fetchAllowlist: FetchAllowlist
    /// `LLM_DEPLOY_NOTIFY_ALLOW`: non-public hosts notifications may still go to.
    var notifyAllowlist: FetchAllowlist
    /// Whether more than one sender can reach the service: `LLM_DEPLOY_SECRETS_FILE` lists
    /// several, or lists one beside the shared `LLM_DEPLOY_SECRET` (which any other address may use).
    var multipleSenders: Bool

    init(environment: ServiceEnvironment) throws(ConfigurationError) {
        spoolRoot = environment.spoolRoot
        dataRoot = environment.dataRoot
        slots = try environment.slots()
        deadline = TimeInterval(try environment.integer("LLM_DEPLOY_DEADLINE", default: 600, in: 10...86_400))
        notifyHorizon = TimeInterval(try environment.integer("LLM_DEPLOY_NOTIFY_HORIZON", default: 3600, in: 1...604_800))
        notifyTimeout = TimeInterval(try environment.integer("LLM_DEPLOY_NOTIFY_TIMEOUT", default: 30, in: 1...300))
        publicURL = environment["LLM_DEPLOY_PUBLIC_URL"] ?? "http://127.0.0.1:8080"
        forge = try ForgeSettings(environment: environment)
        authorName = environment["LLM_DEPLOY_GIT_AUTHOR_NAME"] ?? "llm-deploy"
        authorEmail = environment["LLM_DEPLOY_GIT_AUTHOR_EMAIL"] ?? "llm-deploy@localhost"
        self.secrets = try Self.secrets(in: environment)
        llm = try LLMSettings.read(from: environment)
        fetchAllowlist = try FetchAllowlist(parsing: environment["LLM_DEPLOY_FETCH_ALLOW"])
        notifyAllowlist = try FetchAllowlist(parsing: environment["LLM_DEPLOY_NOTIFY_ALLOW"], variable: "LLM_DEPLOY_NOTIFY_ALLOW")
        let listed = try environment.senderSecrets().count
        multipleSenders = listed + (try environment.secret("LLM_DEPLOY_SECRET") == nil ? 0 : 1) >= 2
        switch environment["LLM_DEPLOY_CHECKS"] ?? "on" {
        case "on": checksEnabled = true
        case "off": checksEnabled = false
        case let other: throw ConfigurationError(variable: "LLM_DEPLOY_CHECKS", reason: "must be on or off, not \(other)")
        }
        checkAttempts = try environment.integer("LLM_DEPLOY_CHECK_ATTEMPTS", default: 3, in: 1...10)
    }

    /// Where the check stage finds Chromium, chromedriver and nginx, and keeps its run
    /// directories (`LLM_DEPLOY_DATA/check`); `nil` when the checks are off.
    var checkSettings: CheckSettings? {
        guard checksEnabled else { return nil }
        return CheckSettings.located(workRoot: dataRoot + "/check")
    }

    /// Every secret configured for the service: what the scanner must never let through.
    static func secrets(in environment: ServiceEnvironment) throws(ConfigurationError) -> [String] {
        var secrets: [String] = []
        for name in ["LLM_DEPLOY_SECRET", "GITHUB_TOKEN", "OPENAI_API_KEY"] {
            if let value = try environment.secret(name) { secrets.append(value) }
        }
        secrets += try environment.senderSecrets().values
        return secrets
    }
}

/// Which forge publishes, with its settings.
enum ForgeSettings: Sendable {
    case local
    /// `GITHUB_API_URL`, `GITHUB_TOKEN` (or `_FILE`), `GITHUB_OWNER` (default: the token's user).
    case github(apiURL: String, token: String, owner: String?)

    init(environment: ServiceEnvironment) throws(ConfigurationError) {
        switch environment["LLM_DEPLOY_FORGE"] ?? "local" {
        case "local":
            self = .local
        case "github":
            guard let token = try environment.secret("GITHUB_TOKEN") else {
                throw ConfigurationError(variable: "GITHUB_TOKEN", reason: "is not set: LLM_DEPLOY_FORGE=github needs a token (GITHUB_TOKEN or GITHUB_TOKEN_FILE) with the repo and workflow scopes")
            }
            let apiURL = environment["GITHUB_API_URL"] ?? "https://api.github.com"
            if let problem = TaskRequest.problem(withWebURL: apiURL) {
                throw ConfigurationError(variable: "GITHUB_API_URL", reason: problem)
            }
            self = .github(apiURL: apiURL, token: token, owner: environment["GITHUB_OWNER"])
        case let other:
            throw ConfigurationError(variable: "LLM_DEPLOY_FORGE", reason: "must be local or github, not \(other)")
        }
    }
}
