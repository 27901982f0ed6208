import Fetch
import Foundation
import Spool
import Synchronization

/// The few GitHub REST endpoints the forge calls, with GitHub's documented errors mapped to
/// what the pipeline should do: 401 → permanent (check the token), rate limits → deferred until
/// `Retry-After` / `x-ratelimit-reset`, 5xx → transient, 422 → permanent with GitHub's reason.
struct GitHubAPI: Sendable {
    let baseURL: String
    let token: String
    let client: WebClient
    /// What this process learned from GitHub's answers (login, rate-limit budget).
    let session: GitHubSession

    init(baseURL: String, token: String, client: WebClient, session: GitHubSession = GitHubSession()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.client = client
        self.session = session
    }

    struct Repository: Sendable {
        /// The name as GitHub spells it (names are case-insensitive: it may differ in case from ours).
        var name: String
        var htmlURL: String
        var cloneURL: String
    }

    /// The token's login, asked once per process.
    func authenticatedLogin() async throws(PipelineError) -> String {
        if let login = session.login { return login }
        let (_, json) = try await call("GET", "/user")
        guard let login = json["login"] as? String else { throw .transient("GET /user returned no login") }
        session.remember(login: login)
        return login
    }

    /// The repository, or `nil` when GitHub does not know it; one found is remembered for the process.
    func repository(owner: String, name: String) async throws(PipelineError) -> Repository? {
        if let known = session.repository("\(owner)/\(name)") { return known }
        let (status, json) = try await call("GET", "/repos/\(owner)/\(name)", accept: [200, 404])
        guard status != 404 else { return nil }
        let found = try Self.repository(from: json)
        session.remember(repository: found, as: "\(owner)/\(name)")
        return found
    }

    /// The repository, created public if absent (`created` says so); an existing one is returned
    /// as it is, for the caller to check that its history is this task's.
    func ensureRepository(owner: String, name: String, description: String) async throws(PipelineError) -> (repository: Repository, created: Bool) {
        if let existing = try await repository(owner: owner, name: name) { return (existing, false) }
        let login = try await authenticatedLogin()
        let path = login.lowercased() == owner.lowercased() ? "/user/repos" : "/orgs/\(owner)/repos"
        let body: [String: Any] = [
            "name": name, "description": String(description.prefix(300)), "private": false,
            "has_issues": true, "has_wiki": false, "auto_init": false,
        ]
        let (status, json) = try await call("POST", path, body: body, accept: [201, 422])
        if status == 201 {
            let created = try Self.repository(from: json)
            session.remember(repository: created, as: "\(owner)/\(name)")
            return (created, true)
        }
        // "name already exists": made by a run that died before recording it, or by another task
        // whose name differs only in case. GitHub answers 404 for a moment after creating one.
        let found = try await Self.retrying(for: Self.lagWindow) { () throws(PipelineError) in
            try await repository(owner: owner, name: name)
        }
        if let found { return (found, false) }
        throw .permanent("GitHub would not create \(owner)/\(name): \(Self.describe(json))")
    }

    /// How long the forge waits out GitHub's lag after creating a repository or pushing a branch
    /// (404 from git and the API, 422 "The main branch must exist") before deferring the task.
    static let lagWindow: TimeInterval = 30

    /// Polls `attempt` with a short back-off until it returns a value or `seconds` have passed.
    static func retrying<T>(
        for seconds: TimeInterval, _ attempt: () async throws(PipelineError) -> T?
    ) async throws(PipelineError) -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        var delay: TimeInterval = 0.25
        while true {
            if let value = try await attempt() { return value }
            guard Date().addingTimeInterval(delay) < deadline else { return nil }
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 4)
        }
    }

    /// Where a Pages site stands after `configurePages`.
    struct PagesSite: Sendable {
        var htmlURL: String?
        /// Enabled just now: GitHub builds a branch-built site by itself.
        var created: Bool
        /// The build type or source was changed with PUT, which queues no build.
        var changed: Bool
    }

    /// Enables Pages from `main` at `/`, or with `build_type: workflow`, or switches an existing
    /// site to it. Waits out GitHub's lag after a repository's creation or first push (404, 422
    /// "The main branch must exist …") within `lagWindow`, then defers.
    /// `existing`: the repository was there before this run, so its site probably is too: ask
    /// first (GET, then PUT only if the build type differs) rather than POST into a 409.
    func configurePages(owner: String, name: String, workflow: Bool, existing: Bool) async throws(PipelineError) -> PagesSite {
        let body: [String: Any] = workflow ? ["build_type": "workflow"] : ["build_type": "legacy", "source": ["branch": "main", "path": "/"]]
        var last = ""
        var askFirst = existing
        let site = try await Self.retrying(for: Self.lagWindow) { () throws(PipelineError) -> PagesSite? in
            var status = 409
            var json: [String: Any] = [:]
            if !askFirst {
                (status, json) = try await call("POST", "/repos/\(owner)/\(name)/pages", body: body, accept: [201, 404, 409, 422])
            }
            askFirst = false
            switch status {
            case 201:
                session.remember(buildType: workflow ? "workflow" : "legacy", for: name)
                return PagesSite(htmlURL: json["html_url"] as? String, created: true, changed: false)
            case 409:
                let (found, current) = try await call("GET", "/repos/\(owner)/\(name)/pages", accept: [200, 404])
                guard found == 200 else { return nil }  // not enabled after all: POST on the next try
                var changed = false
                if (current["build_type"] as? String) != (workflow ? "workflow" : "legacy") {
                    let (updated, answer) = try await call("PUT", "/repos/\(owner)/\(name)/pages", body: body, accept: [204, 404, 422])
                    guard updated == 204 else {
                        last = "PUT answered \(updated): \(Self.describe(answer))"
                        return nil
                    }
                    changed = true
                }
                session.remember(buildType: workflow ? "workflow" : "legacy", for: name)
                return PagesSite(htmlURL: current["html_url"] as? String, created: false, changed: changed)
            case 422 where !Self.describe(json).contains("must exist"):
                throw .permanent("GitHub would not enable Pages for \(owner)/\(name): \(Self.describe(json))")
            default:
                last = "POST answered \(status): \(Self.describe(json))"
                return nil
            }
        }
        guard let site else {
            throw .transient("GitHub Pages for \(owner)/\(name) still not available after \(Int(Self.lagWindow)) s (\(last))")
        }
        return site
    }

    /// Asks GitHub to build a branch-built site from the tip of its branch: needed after a PUT
    /// (which builds nothing) and after an `errored` build. Best effort.
    func requestPagesBuild(owner: String, name: String) async {
        _ = try? await call("POST", "/repos/\(owner)/\(name)/pages/builds", accept: [201, 404, 403])
    }

    /// The site's build type (`legacy` or `workflow`), from this process's memory or GitHub.
    func pagesBuildType(owner: String, name: String) async throws(PipelineError) -> String? {
        if let known = session.buildType(for: name) { return known }
        let (status, json) = try await call("GET", "/repos/\(owner)/\(name)/pages", accept: [200, 404])
        guard status == 200, let type = json["build_type"] as? String else { return nil }
        session.remember(buildType: type, for: name)
        return type
    }

    /// One REST call. Statuses in `accept` (and 2xx) are returned; the rest become errors.
    /// A spent budget (`x-ratelimit-remaining: 0` before its reset) defers without calling.
    func call(
        _ method: String, _ path: String, body: [String: Any]? = nil, accept: Set<Int> = [200]
    ) async throws(PipelineError) -> (Int, [String: Any]) {
        if let wait = session.exhaustedFor() {
            throw .transient("GitHub's API budget for this token is spent; it resets in \(Int(wait)) s (rate limited)", retryAfter: wait)
        }
        let data = body.flatMap { try? JSONSerialization.data(withJSONObject: $0) }
        var headers = [
            "Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
            "Authorization": "Bearer \(token)",
        ]
        if data != nil { headers["Content-Type"] = "application/json" }
        let response: WebClient.Response
        do {
            response = try await client.send(method, baseURL + path, headers: headers, body: data, timeout: 30)
        } catch {
            throw .transient("GitHub \(method) \(path): \(error)")
        }
        session.note(headers: response.headers)
        let json = (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
        let status = response.status
        if accept.contains(status) || (200..<300).contains(status) { return (status, json) }
        let what = "GitHub \(method) \(path) answered \(status): \(Self.describe(json))"
        if let wait = Self.rateLimitWait(status: status, headers: response.headers, json: json) {
            throw .transient("\(what) (rate limited)", retryAfter: wait)
        }
        switch status {
        case 401: throw .permanent("\(what); check GITHUB_TOKEN (expired, revoked or mistyped)")
        case 403, 404: throw .permanent("\(what); check that the token may administer this repository (scopes: repo, workflow)")
        case 422: throw .permanent(what)
        case 500...: throw .transient(what)
        default: throw .permanent(what)
        }
    }

    /// Seconds to wait for a primary (`x-ratelimit-remaining: 0`) or secondary (`retry-after`)
    /// rate limit, per GitHub's documentation; `nil` when the answer is not a rate limit.
    static func rateLimitWait(status: Int, headers: [String: String], json: [String: Any], now: Date = .now) -> TimeInterval? {
        guard status == 403 || status == 429 else { return nil }
        if let retry = headers["retry-after"].flatMap(TimeInterval.init) { return max(1, retry) }
        if headers["x-ratelimit-remaining"] == "0", let reset = headers["x-ratelimit-reset"].flatMap(TimeInterval.init) {
            return max(1, reset - now.timeIntervalSince1970 + 1)
        }
        if status == 429 || ((json["message"] as? String)?.lowercased().contains("rate limit") ?? false) { return 60 }
        return nil
    }

    static func describe(_ json: [String: Any]) -> String {
        var text = (json["message"] as? String) ?? "no message"
        if let errors = json["errors"] as? [[String: Any]] {
            let details = errors.compactMap { $0["message"] as? String ?? $0["code"] as? String }
            if !details.isEmpty { text += " (\(details.joined(separator: "; ")))" }
        }
        return text
    }

    private static func repository(from json: [String: Any]) throws(PipelineError) -> Repository {
        guard let name = json["name"] as? String, let html = json["html_url"] as? String, let clone = json["clone_url"] as? String else {
            throw .transient("GitHub's repository answer has no name/html_url/clone_url")
        }
        return Repository(name: name, htmlURL: html, cloneURL: clone)
    }
}

/// What one Finisher process learned from GitHub, shared by its tasks: the token's login (asked
/// once, not on every poll), each site's build type, and the core rate-limit budget from the
/// `x-ratelimit-*` headers of the last answer, so optional calls (Pages polls) stop before the
/// budget is spent and every call waits when it is.
final class GitHubSession: Sendable {
    private struct State {
        var login: String?
        var buildTypes: [String: String] = [:]
        var workflows: [String: String] = [:]
        var neverRuns: [String: String] = [:]
        var repositories: [String: GitHubAPI.Repository] = [:]
        var limit: Int?
        var remaining: Int?
        var reset: Date?
    }

    private let state = Mutex(State())

    init() {}

    var login: String? { state.withLock { $0.login } }

    func remember(login: String) { state.withLock { $0.login = login } }

    func buildType(for repository: String) -> String? { state.withLock { $0.buildTypes[repository.lowercased()] } }

    func remember(buildType: String, for repository: String) {
        state.withLock { $0.buildTypes[repository.lowercased()] = buildType }
    }

    /// The workflow that deploys a repository's Pages, as published by this process.
    func workflow(for repository: String) -> String? { state.withLock { $0.workflows[repository.lowercased()] } }

    func remember(workflow: String, for repository: String) {
        state.withLock { $0.workflows[repository.lowercased()] = workflow }
    }

    func repository(_ fullName: String) -> GitHubAPI.Repository? { state.withLock { $0.repositories[fullName.lowercased()] } }

    func remember(repository: GitHubAPI.Repository, as fullName: String) {
        state.withLock { $0.repositories[fullName.lowercased()] = repository }
    }

    /// Why the deploy workflow published for a repository will never run, if it will not.
    func neverRuns(_ repository: String) -> String? { state.withLock { $0.neverRuns[repository.lowercased()] } }

    func remember(neverRuns reason: String, for repository: String) {
        state.withLock { $0.neverRuns[repository.lowercased()] = reason }
    }

    func note(headers: [String: String]) {
        guard headers["x-ratelimit-resource"] ?? "core" == "core", let remaining = headers["x-ratelimit-remaining"].flatMap(Int.init) else { return }
        state.withLock {
            $0.remaining = remaining
            $0.limit = headers["x-ratelimit-limit"].flatMap(Int.init) ?? $0.limit
            $0.reset = headers["x-ratelimit-reset"].flatMap(TimeInterval.init).map(Date.init(timeIntervalSince1970:)) ?? $0.reset
        }
    }

    /// Seconds until the reset when the last answer said the budget is spent.
    func exhaustedFor(now: Date = .now) -> TimeInterval? {
        state.withLock {
            guard $0.remaining == 0, let reset = $0.reset, reset > now else { return nil }
            return reset.timeIntervalSince(now) + 1
        }
    }

    /// Whether an optional call is affordable: a tenth of the budget (at most 100 calls) is kept
    /// for the calls that publish (creating repositories, enabling Pages) of this and other tasks.
    var mayPoll: Bool {
        state.withLock {
            guard let remaining = $0.remaining else { return true }
            if let reset = $0.reset, reset <= .now { return true }
            return remaining > min(100, max(1, ($0.limit ?? 5000) / 10))
        }
    }
}
