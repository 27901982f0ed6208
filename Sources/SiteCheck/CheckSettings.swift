import Foundation

/// Where the programs are and how long each step may take. Every wait is bounded: a page or a
/// check that loops forever costs at most its timeout, and the whole run at most `runBudget`.
public struct CheckSettings: Sendable {
    /// Chromium; `nil` when not installed (the run is then skipped, not failed).
    public var chromium: String?
    public var chromedriver: String?
    public var nginx: String?
    /// Run directories (profile, logs, nginx configuration) are made under here, mode 0700.
    public var workRoot: String
    /// chromedriver's start plus Chromium's New Session.
    public var startupTimeout: TimeInterval = 20
    /// The page's load event.
    public var pageLoadTimeout: TimeInterval = 10
    /// After the load event: no fetch/XHR in flight and no new resource for `networkQuiet`,
    /// waited for at most `networkIdleTimeout` (the evaluator waits a few seconds at most).
    public var networkQuiet: TimeInterval = 0.5
    public var networkIdleTimeout: TimeInterval = 3
    /// One check, promises awaited.
    public var checkTimeout: TimeInterval = 5
    /// The whole run; checks not reached are skipped with that reason.
    public var runBudget: TimeInterval = 90
    /// Fresh browsers started after a hang or crash before the rest is given up.
    public var maximumRestarts = 2
    /// Chromium's sandbox needs an unprivileged user; as root it runs with `--no-sandbox`.
    public var runningAsRoot = geteuid() == 0

    public init(chromium: String?, chromedriver: String?, nginx: String?, workRoot: String) {
        self.chromium = chromium
        self.chromedriver = chromedriver
        self.nginx = nginx
        self.workRoot = workRoot
    }

    /// The programs from `LLM_DEPLOY_CHROMIUM`, `LLM_DEPLOY_CHROMEDRIVER`, `LLM_DEPLOY_NGINX`
    /// or PATH (plus /usr/sbin and /usr/lib/chromium, where Debian puts them).
    public static func located(workRoot: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> CheckSettings {
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/lib/chromium"]
        func find(_ variable: String, _ names: [String]) -> String? {
            if let explicit = environment[variable], !explicit.isEmpty {
                return FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil
            }
            for name in names {
                if let found = directories.map({ "\($0)/\(name)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
            }
            return nil
        }
        return CheckSettings(
            chromium: find("LLM_DEPLOY_CHROMIUM", ["chromium", "chromium-browser", "google-chrome"]),
            chromedriver: find("LLM_DEPLOY_CHROMEDRIVER", ["chromedriver"]),
            nginx: find("LLM_DEPLOY_NGINX", ["nginx"]),
            workRoot: workRoot)
    }
}
