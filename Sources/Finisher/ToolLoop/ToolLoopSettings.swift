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
    /// `fetch_url`'s HTTP client and address policy.
    var fetcher: URLFetcher
    /// Converts `.xlsx` files for `read_file`.
    var spreadsheets = SpreadsheetReader()

    /// Settings with `allowlist` as the operator's `LLM_DEPLOY_FETCH_ALLOW`.
    init(allowlist: FetchAllowlist = .none) {
        fetcher = URLFetcher(policy: FetchGuard(allowlist: allowlist))
    }
}
