import ArgumentParser
import Fetch
import Foundation
import Logging
import SiteCheck
import Spool

extension FinisherCommand {
    /// `doctor`: checks a deployment before the first task arrives, one line per check.
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check configuration, spool, nginx, forge, LLM endpoint and evaluator; exit 1 on any failure.")

        @Option(help: "The nginx configuration to test (default: LLM_DEPLOY_HOME/nginx.conf, else /etc/nginx/nginx.conf).")
        var nginxConf: String?

        @Option(help: "An evaluation URL to check for reachability.")
        var evaluator: String?

        func run() async throws {
            let environment = ServiceEnvironment()
            var report = DoctorReport()
            let configuration: FinisherConfiguration
            do {
                configuration = try FinisherConfiguration(environment: environment)
                report.pass("configuration", "read from the environment")
            } catch {
                report.fail("configuration", "\(error)")
                report.print()
                throw ExitCode(1)
            }
            let hasSecret = (try? environment.secret("LLM_DEPLOY_SECRET")) != nil || environment["LLM_DEPLOY_SECRETS_FILE"] != nil
            hasSecret ? report.pass("request secret", "configured")
                : report.fail("request secret", "set LLM_DEPLOY_SECRET (or LLM_DEPLOY_SECRET_FILE, LLM_DEPLOY_SECRETS_FILE): the Handler will not start without it")
            report.check("spool", Self.probeWritable(configuration.spoolRoot, create: { _ = try SpoolDirectory(root: $0) }))
            report.check("data directory", Self.probeWritable(configuration.dataRoot, create: {
                try FileManager.default.createDirectory(atPath: $0, withIntermediateDirectories: true)
            }))
            report.check("git", await Self.run(Git.executable, ["--version"]).map { "\($0.trimmingCharacters(in: .whitespacesAndNewlines))" })
            let nginxPath = nginxConf ?? [environment.home + "/nginx.conf", "/etc/nginx/nginx.conf"].first { FileManager.default.fileExists(atPath: $0) }
            if var nginxPath {
                // nginx resolves a relative -c against its own prefix, not our directory.
                if !nginxPath.hasPrefix("/") { nginxPath = FileManager.default.currentDirectoryPath + "/" + nginxPath }
                report.check("nginx", await Self.run("/usr/sbin/nginx", ["-t", "-q", "-c", nginxPath, "-e", "stderr"]).map { _ in "\(nginxPath) is valid" })
            } else {
                report.fail("nginx", "no nginx.conf found: pass --nginx-conf PATH (deploy/nginx.conf is the template)")
            }
            let client = WebClient()
            switch configuration.forge {
            case .local:
                let backend = "/usr/lib/git-core/git-http-backend"
                FileManager.default.isExecutableFile(atPath: backend)
                    ? report.pass("forge", "local: repositories under \(configuration.dataRoot)/git, pages at \(configuration.publicURL)/pages/")
                    : report.fail("forge", "local: \(backend) is missing; install git")
            case .github(let apiURL, let token, let owner):
                report.check("forge", await Self.checkGitHub(apiURL: apiURL, token: token, owner: owner, client: client))
            }
            if let llm = configuration.llm {
                let (base, key) = (llm.baseURL, llm.apiKey)
                let result: Result<String, DoctorFailure>
                do {
                    let response = try await client.send("GET", base + "/models", headers: ["Authorization": "Bearer \(key)"], timeout: 15)
                    result = response.status == 200 ? .success("\(base) answers with the configured key")
                        : .failure(DoctorFailure("\(base)/models answered HTTP \(response.status); check OPENAI_API_KEY and OPENAI_BASE_URL"))
                } catch {
                    result = .failure(DoctorFailure("\(base) is unreachable: \(error)"))
                }
                report.check("LLM", result)
                if case .success = result {
                    report.check("LLM capabilities", await Self.probeCapabilities(base: base, key: key, model: llm.model, web: client))
                }
            } else {
                report.pass("LLM", "OPENAI_API_KEY is not set: the offline template generator will be used")
            }
            report.check("chromium", await Self.checkBrowser(configuration.checkSettings))
            if let evaluator {
                do {
                    let response = try await client.send("GET", evaluator, timeout: 10)
                    report.pass("evaluator", "\(evaluator) answers (HTTP \(response.status))")
                } catch {
                    report.fail("evaluator", "\(evaluator) is unreachable: \(error)")
                }
            }
            report.print()
            if report.failed { throw ExitCode(1) }
        }

        /// Three tiny requests: which response format, whether tools and whether images the
        /// endpoint accepts for the model, as the generator will find out.
        static func probeCapabilities(base: String, key: String, model: String, web: WebClient) async -> Result<String, DoctorFailure> {
            var client = ChatCompletionsClient(
                endpoint: ChatCompletionsClient.endpoint(forBaseURL: base), apiKey: key, web: web,
                logger: Logger(label: "doctor") { _ in SwiftLogNoOpLogHandler() })
            client.requestTimeout = 30
            client.maximumAttempts = 2
            client.minimumAttemptTime = 1
            client.capabilities = CapabilityMemory()
            switch await CapabilityProbe(client: client, model: model).run() {
            case .success(let capabilities): return .success("\(model): \(capabilities)")
            case .failure(let error): return .failure(DoctorFailure("probing \(model): \(error)"))
            }
        }

        static func probeWritable(_ path: String, create: (String) throws -> Void) -> Result<String, DoctorFailure> {
            do {
                try create(path)
                let probe = "\(path)/.doctor.\(getpid())"
                try Data("probe".utf8).write(to: URL(fileURLWithPath: probe), options: .atomic)
                try FileManager.default.removeItem(atPath: probe)
                return .success("\(path) is writable")
            } catch {
                return .failure(DoctorFailure("\(path) is not writable: \(error); create it and give it to the service user"))
            }
        }

        static func run(_ executable: String, _ arguments: [String]) async -> Result<String, DoctorFailure> {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                return .failure(DoctorFailure("\(executable) is not installed (scripts/setup installs it)"))
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            do { try process.run() } catch { return .failure(DoctorFailure("cannot run \(executable): \(error)")) }
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return process.terminationStatus == 0 ? .success(text) : .failure(DoctorFailure(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        /// Starts Chromium through chromedriver and loads a one-line page from the loopback
        /// server, as the check stage does.
        static func checkBrowser(_ settings: CheckSettings?) async -> Result<String, DoctorFailure> {
            guard var settings else { return .success("LLM_DEPLOY_CHECKS=off: pages are published without running their checks") }
            settings.workRoot = FileManager.default.temporaryDirectory.path + "/llm-deploy-doctor-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: settings.workRoot) }
            let tree = settings.workRoot + "/tree"
            do {
                try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
                try Data("<!doctype html><title>doctor</title><p id=ok>ok</p>\n".utf8).write(to: URL(fileURLWithPath: tree + "/index.html"))
            } catch {
                return .failure(DoctorFailure("cannot write a test page under \(settings.workRoot): \(error)"))
            }
            let report = await CheckSession.run(checks: ["js: document.title === 'doctor' && !!document.querySelector('#ok')"], tree: tree, repository: "doctor", settings: settings)
            guard let result = report.results.first, result.status == .passed else {
                let reason = report.results.first?.reason ?? "no result"
                return .failure(DoctorFailure("\(reason) (scripts/setup installs chromium and chromium-driver; LLM_DEPLOY_CHECKS=off publishes without checks)"))
            }
            let sandbox = settings.runningAsRoot ? "; running as root, so without Chromium's sandbox" : ""
            return .success("Chromium \(report.browserVersion ?? "?") loads a page through chromedriver (\(report.seconds) s)\(sandbox)")
        }

        static func checkGitHub(apiURL: String, token: String, owner: String?, client: WebClient) async -> Result<String, DoctorFailure> {
            let base = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
            let headers = ["Authorization": "Bearer \(token)", "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"]
            do {
                let user = try await client.send("GET", base + "/user", headers: headers, timeout: 15)
                guard user.status == 200, let login = (try? JSONSerialization.jsonObject(with: user.body) as? [String: Any])?["login"] as? String else {
                    return .failure(DoctorFailure("GitHub refused the token (HTTP \(user.status)); check GITHUB_TOKEN"))
                }
                let scopes = user.headers["x-oauth-scopes"].map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
                if let scopes, !scopes.contains("repo") && !scopes.contains("public_repo") {
                    return .failure(DoctorFailure("the token for \(login) lacks the repo scope (it has: \(scopes.sorted().joined(separator: ", ")))"))
                }
                var note = scopes.map { $0.contains("workflow") ? "" : "; without the workflow scope, briefs that ask for CI cannot be pushed" } ?? ""
                if let owner, owner.lowercased() != login.lowercased() {
                    let org = try await client.send("GET", base + "/orgs/\(owner)", headers: headers, timeout: 15)
                    guard org.status == 200 else {
                        return .failure(DoctorFailure("GITHUB_OWNER=\(owner) is not an organisation \(login) can see (HTTP \(org.status))"))
                    }
                    note += "; repositories go to the organisation \(owner)"
                }
                return .success("GitHub at \(base) accepts the token of \(login)\(note)")
            } catch {
                return .failure(DoctorFailure("GitHub at \(base) is unreachable: \(error)"))
            }
        }
    }
}

struct DoctorFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The doctor's lines: `ok    name: detail` or `FAIL  name: what to do`.
struct DoctorReport {
    private(set) var lines: [String] = []
    private(set) var failed = false

    mutating func pass(_ name: String, _ detail: String) { lines.append("ok    \(name): \(detail)") }

    mutating func fail(_ name: String, _ detail: String) {
        failed = true
        lines.append("FAIL  \(name): \(detail)")
    }

    mutating func check(_ name: String, _ result: Result<String, DoctorFailure>) {
        switch result {
        case .success(let detail): pass(name, detail)
        case .failure(let failure): fail(name, failure.description)
        }
    }

    func print() { Swift.print(lines.joined(separator: "\n")) }
}
