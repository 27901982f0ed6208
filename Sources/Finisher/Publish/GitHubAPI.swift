import Fetch
import Foundation
import Spool

/// The few GitHub REST endpoints the forge calls, with GitHub's documented errors mapped to
/// what the pipeline should do: 401 → permanent (check the token), rate limits → deferred until
/// `Retry-After` / `x-ratelimit-reset`, 5xx → transient, 422 → permanent with GitHub's reason.
struct GitHubAPI: Sendable {
    let baseURL: String
    let token: String
    let client: WebClient

    init(baseURL: String, token: String, client: WebClient) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
        self.client = client
    }

    struct Repository: Sendable {
        var htmlURL: String
        var cloneURL: String
    }

    func authenticatedLogin() async throws(PipelineError) -> String {
        let (_, json) = try await call("GET", "/user")
        guard let login = json["login"] as? String else { throw .transient("GET /user returned no login") }
        return login
    }

    func repository(owner: String, name: String) async throws(PipelineError) -> Repository? {
        let (status, json) = try await call("GET", "/repos/\(owner)/\(name)", accept: [200, 404])
        return status == 404 ? nil : try Self.repository(from: json)
    }

    /// The repository, created public if absent; an existing one is reused so a rerun after a
    /// crash creates nothing twice.
    func ensureRepository(owner: String, name: String, description: String) async throws(PipelineError) -> Repository {
        if let existing = try await repository(owner: owner, name: name) { return existing }
        let login = try await authenticatedLogin()
        let path = login.lowercased() == owner.lowercased() ? "/user/repos" : "/orgs/\(owner)/repos"
        let body: [String: Any] = [
            "name": name, "description": String(description.prefix(300)), "private": false,
            "has_issues": true, "has_wiki": false, "auto_init": false,
        ]
        let (status, json) = try await call("POST", path, body: body, accept: [201, 422])
        if status == 422 {
            // Created by a run that died before recording it: take it.
            if let existing = try await repository(owner: owner, name: name) { return existing }
            throw .permanent("GitHub would not create \(owner)/\(name): \(Self.describe(json))")
        }
        return try Self.repository(from: json)
    }

    /// Enables Pages from `main` at `/`, or with `build_type: workflow` when the tree deploys
    /// Pages itself. "Already enabled" is success. Returns the site's `html_url` when GitHub gives it.
    func enablePages(owner: String, name: String, workflow: Bool) async throws(PipelineError) -> String? {
        let body: [String: Any] = workflow ? ["build_type": "workflow"] : ["build_type": "legacy", "source": ["branch": "main", "path": "/"]]
        let (status, json) = try await call("POST", "/repos/\(owner)/\(name)/pages", body: body, accept: [201, 409])
        if status == 201 { return json["html_url"] as? String }
        let (_, current) = try await call("GET", "/repos/\(owner)/\(name)/pages")
        if (current["build_type"] as? String) != (workflow ? "workflow" : "legacy") {
            _ = try await call("PUT", "/repos/\(owner)/\(name)/pages", body: body, accept: [204])
        }
        return current["html_url"] as? String
    }

    /// One REST call. Statuses in `accept` (and 2xx) are returned; the rest become errors.
    func call(
        _ method: String, _ path: String, body: [String: Any]? = nil, accept: Set<Int> = [200]
    ) async throws(PipelineError) -> (Int, [String: Any]) {
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
        guard let html = json["html_url"] as? String, let clone = json["clone_url"] as? String else {
            throw .transient("GitHub's repository answer has no html_url/clone_url")
        }
        return Repository(htmlURL: html, cloneURL: clone)
    }
}
