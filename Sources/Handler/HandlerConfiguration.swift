#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Spool

/// The Handler's settings from the environment (every variable is in the README's configuration table).
struct HandlerConfiguration: Sendable {
    var secrets: SecretBook
    var spoolRoot: String
    var maximumBody: Int
    /// `nil` when `LLM_DEPLOY_WAKE=none`.
    var wakeArguments: [String]?
    var slots: Int
    /// `LLM_DEPLOY_SPOOL_SYNC`: how deliveries are flushed (`filesystem` or `directory`).
    var spoolSync: DirectorySync.Scope
    /// `LLM_DEPLOY_NOTIFY_ALLOW`: which non-public `evaluation_url` hosts are accepted.
    var evaluationURLs: EvaluationURLPolicy

    static let defaultMaximumBody = 25 << 20

    init(environment: ServiceEnvironment, executable: String? = CommandLine.arguments.first) throws(ConfigurationError) {
        secrets = SecretBook(shared: try environment.secret("LLM_DEPLOY_SECRET"), perSender: try environment.senderSecrets())
        guard !secrets.isEmpty else {
            throw ConfigurationError(variable: "LLM_DEPLOY_SECRET", reason: "is not set: set it (or LLM_DEPLOY_SECRET_FILE, or LLM_DEPLOY_SECRETS_FILE) so requests can be authenticated")
        }
        spoolRoot = environment.spoolRoot
        maximumBody = try environment.byteCount("LLM_DEPLOY_MAX_BODY", default: Self.defaultMaximumBody)
        slots = try environment.slots()
        let sync = environment["LLM_DEPLOY_SPOOL_SYNC"] ?? DirectorySync.Scope.fileSystem.rawValue
        guard let scope = DirectorySync.Scope(rawValue: sync) else {
            throw ConfigurationError(variable: "LLM_DEPLOY_SPOOL_SYNC", reason: "must be filesystem or directory, not \(sync)")
        }
        spoolSync = scope
        evaluationURLs = try EvaluationURLPolicy(environment: environment)
        wakeArguments = FinisherWaker.arguments(from: environment["LLM_DEPLOY_WAKE"], handlerExecutable: Self.resolvedExecutable(executable))
    }

    /// The Handler's own path, from /proc (argv[0] may be a bare name found on PATH).
    private static func resolvedExecutable(_ fallback: String?) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : fallback
    }
}
