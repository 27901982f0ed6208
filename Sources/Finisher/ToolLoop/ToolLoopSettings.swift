import Fetch
import Foundation
import Spreadsheet

/// The tool loop's budget and the tools' limits. The loop also ends at the stage's deadline,
/// whichever comes first; when it ends without `finish`, the files written so far are used.
struct ToolLoopSettings: Sendable {
    /// The most tool calls executed in one generation (refused ones count).
    var maximumToolCalls = 60
    /// The most requests to the model in one generation.
    var maximumExchanges = 40
    /// The most tokens (prompt and completion, summed over the exchanges) one generation may use;
    /// the conversation is resent with each exchange, so this grows quickly.
    var maximumTokens = 1_500_000
    /// How often a model that stops calling tools without `finish` is reminded to continue.
    var maximumNudges = 1
    /// The most characters of a file `read_file` returns (head and tail kept).
    var maximumReadCharacters = 60_000
    /// The most characters of a fetched body returned to the model.
    var maximumFetchCharacters = 20_000
    /// The most entries `list_files` returns.
    var maximumListedFiles = 500
    /// The most bytes `fetch_url` saves with `save_as` (a larger body is not saved at all).
    var maximumSavedBytes = 8 << 20
    /// The most characters of a saved body shown back to the model.
    var maximumSavedPreviewCharacters = 2_000
    /// The most `run_checks` calls in one generation: each costs a page load and the checks.
    var maximumCheckRuns = 3
    /// The most seconds one `run_checks` call may spend on its checks (besides the browser's start).
    var maximumCheckSeconds: TimeInterval = 45
    /// The most characters of a `run_checks` result.
    var maximumCheckCharacters = 4_000
    /// `fetch_url`'s HTTP client and address policy.
    var fetcher: URLFetcher
    /// Converts `.xlsx` files for `read_file`.
    var spreadsheets = SpreadsheetReader()
    /// `convert_file`'s conversions.
    var conversion = FileConversion()

    /// Settings with `allowlist` as the operator's `LLM_DEPLOY_FETCH_ALLOW` and `contact` (an
    /// e-mail address or URL, `LLM_DEPLOY_CONTACT`) in `fetch_url`'s User-Agent, as APIs such as
    /// SEC EDGAR require of automated clients.
    init(allowlist: FetchAllowlist = .none, contact: String? = nil) {
        fetcher = URLFetcher(policy: FetchGuard(allowlist: allowlist))
        if let contact { fetcher.userAgent = URLFetcher.userAgent(contact: contact) }
    }
}
