import Foundation
import Testing
@testable import Finisher

/// The rules both prompts state for what graders read: the committed index.html, not only the
/// page after JavaScript ran.
struct PromptRulesTests {
    static let prompts = [
        GenerationPrompt().system(round: 1), GenerationPrompt().system(round: 2),
        GenerationPrompt().toolSystem(round: 1, maximumToolCalls: 60),
    ]

    @Test func staticGradersGetPlainNumbersAnInlineScriptFirstExactTitlesAndRelativeURLs() {
        for prompt in Self.prompts {
            for rule in ["as plain numbers: 1234.5, not \"1,234.50\"", "inline in index.html", "placed before any third-party",
                         "document.title === '…' is exact", "<thead> and <tbody>", "calls fetch() with the URL written out literally",
                         "relative URLs (data.json, ./logo.png, never /data.json"] {
                #expect(prompt.contains(rule), "missing: \(rule)")
            }
            // No example steers the app's script into a separate file.
            #expect(!prompt.contains("app.js"))
        }
        let request = ChatCompletionsRequest(model: "m", messages: [.user("json")], responseFormat: .repositoryChanges)
        #expect(!String(decoding: request.encoded(), as: UTF8.self).contains("app.js"))
    }

    @Test func workflowBriefsAreToldToDeployTheWholeSite() {
        for prompt in Self.prompts {
            for rule in ["actions/upload-pages-artifact and path: . (the repository root)", "pages: write, id-token: write",
                         "environment: name: github-pages", "actions/deploy-pages@v4", "must not be committed (result.json)"] {
                #expect(prompt.contains(rule), "missing: \(rule)")
            }
        }
    }
}
