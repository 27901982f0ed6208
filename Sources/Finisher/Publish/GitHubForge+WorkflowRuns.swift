import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension GitHubForge {
    /// The failed Actions run for `commitSHA` and the end of its failed job's log, through the
    /// REST API: list the runs for the commit ("List workflow runs for a repository",
    /// `head_sha`), the run's jobs ("List jobs for a workflow run", `filter=latest`), and the job's
    /// log ("Download job logs for a workflow run": a 302 to a short-lived URL that needs no
    /// token). The token is sent to GitHub only, never to the log's storage host.
    func failedWorkflowRun(repository: String, commitSHA: String) async -> FailedWorkflowRun? {
        guard let owner = try? await resolvedOwnerForRuns(),
              let (_, runs) = try? await api.call("GET", "/repos/\(owner)/\(repository)/actions/runs?head_sha=\(commitSHA)&event=push"),
              let list = runs["workflow_runs"] as? [[String: Any]],
              let run = list.first(where: {
                  $0["status"] as? String == "completed" && ["failure", "timed_out", "startup_failure"].contains($0["conclusion"] as? String ?? "")
              }),
              let runID = run["id"] as? Int
        else { return nil }
        let url = run["html_url"] as? String ?? "run \(runID)"
        guard let (_, jobs) = try? await api.call("GET", "/repos/\(owner)/\(repository)/actions/runs/\(runID)/jobs?filter=latest"),
              let job = (jobs["jobs"] as? [[String: Any]])?.first(where: { $0["conclusion"] as? String == "failure" }),
              let jobID = job["id"] as? Int
        else {
            return FailedWorkflowRun(url: url, job: "unknown", log: "(GitHub listed no failed job for this run)")
        }
        let name = job["name"] as? String ?? "job \(jobID)"
        let failedStep = (job["steps"] as? [[String: Any]])?.first { $0["conclusion"] as? String == "failure" }?["name"] as? String
        var log = await jobLog(owner: owner, repository: repository, jobID: jobID) ?? "(the job's log could not be downloaded)"
        if let failedStep { log = "Failed step: \(failedStep)\n" + log }
        return FailedWorkflowRun(url: url, job: name, log: log.replacingOccurrences(of: api.token, with: "[token]"))
    }

    /// The owner as `resolvedOwner` finds it, without throwing.
    private func resolvedOwnerForRuns() async throws -> String {
        if let owner { return owner }
        return try await api.authenticatedLogin()
    }

    /// The job's log text: GitHub answers 302 with the log's URL, which is fetched without the
    /// token (a server that answers 200 directly is read as it is).
    private func jobLog(owner: String, repository: String, jobID: Int) async -> String? {
        guard let url = URL(string: api.baseURL + "/repos/\(owner)/\(repository)/actions/jobs/\(jobID)/logs") else { return nil }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.setValue("Bearer \(api.token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/vnd.github+json", forHTTPHeaderField: "Accept")
        request.setValue("2022-11-28", forHTTPHeaderField: "X-GitHub-Api-Version")
        request.setValue(api.client.userAgent, forHTTPHeaderField: "User-Agent")
        let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        guard let (body, response) = try? await session.data(for: request), let http = response as? HTTPURLResponse else { return nil }
        if http.statusCode == 200 { return String(decoding: body.suffix(256 << 10), as: UTF8.self) }
        guard (300..<400).contains(http.statusCode), let location = http.value(forHTTPHeaderField: "Location"),
              let target = URL(string: location, relativeTo: url)?.absoluteString,
              let download = try? await api.client.send("GET", target, timeout: 30, maximumBytes: 32 << 20), download.status == 200
        else { return nil }
        return String(decoding: download.body.suffix(256 << 10), as: UTF8.self)
    }
}

/// Stops URLSession from following a redirect, so the Authorization header never travels on.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}
