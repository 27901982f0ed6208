@testable import Finisher
import Spool
import Testing

/// What the check stage sends back to the generator, and which results are worth a repair.
struct CheckStageFeedbackTests {
    @Test func theFeedbackNamesEachFailureItsReasonAndWhatThePageShowed() {
        let failing = [
            CheckResult(check: "js: document.querySelector('#total').textContent === '42'", status: .failed, reason: "threw TypeError: Cannot read properties of null"),
            CheckResult(check: "js: !!document.querySelector('#chart')", status: .failed, reason: "returned false", round: 1),
        ]
        let text = CheckStage.feedback(failing: failing, evidence: ["request: 404 GET /sales/app.js"], repository: "sales")
        #expect(text.contains("under /sales/"))
        #expect(text.contains("- `js: document.querySelector('#total').textContent === '42'`: threw TypeError: Cannot read properties of null"))
        #expect(text.contains("- `js: !!document.querySelector('#chart')` (round 1's check: it must keep passing): returned false"))
        #expect(text.contains("- request: 404 GET /sales/app.js"))
    }

    @Test func theFeedbackStaysShort() {
        let failing = (0..<100).map { CheckResult(check: "js: check \($0) " + String(repeating: "x", count: 1000), status: .failed, reason: "returned false") }
        let text = CheckStage.feedback(failing: failing, evidence: Array(repeating: String(repeating: "e", count: 1000), count: 100), repository: "r")
        #expect(text.count < 12_000)
        #expect(!text.contains("check 20 "))
    }

    @Test func onlyWhatAnotherTreeCouldFixIsRepaired() {
        let cases: [(CheckResult.Status, String?, Bool)] = [
            (.passed, nil, false),
            (.failed, "returned false", true),
            (.error, "not valid JavaScript: Unexpected token ')'", false),
            (.error, "the browser was lost during this check (chromedriver unreachable)", false),
            (.error, "not run: the browser was lost 3 times", false),
            (.error, "not run: the page stopped responding while loading (a script on it may loop forever)", true),
            (.error, "no answer within 7 s (an endless loop?); the browser was restarted", true),
            (.skipped, "skipped: chromium not found", false),
            (.needsJudgement, "not JavaScript: to be judged against the tree", false),
        ]
        for (status, reason, expected) in cases {
            #expect(CheckStage.repairable(CheckResult(check: "c", status: status, reason: reason)) == expected, "\(status) \(reason ?? "")")
        }
    }
}
