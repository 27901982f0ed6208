import Foundation
import Spool
import Testing
@testable import Finisher

/// The offline template's page: served from the service's own origin, so nothing a sender
/// writes may become a link elsewhere, and no request can make it exceed the file limit.
@Suite struct TemplateGeneratorTests {
    @Test func attachmentLinksAreRelativeAndEncoded() async throws {
        // (Names with a slash never pass intake; they stand for paths the pipeline might link.)
        let names = ["javascript:alert(1)", "//evil.example/x", "../up", "data:text,hi", "a b#c?d.txt", "naïve café.md", "\"><script>x</script>"]
        let attachments = names.map { ReceivedAttachment(name: $0, mediaType: "text/plain", bytes: Data("x".utf8)) }
        let files = try await TemplateGenerator().generate(GeneratorFixtures.brief(attachments: attachments), budget: 5).tree
        let page = String(decoding: try #require(files["index.html"]), as: UTF8.self)
        let targets = Self.hrefs(in: page)
        #expect(targets.count == names.count)
        for target in targets {
            let rest = target.dropFirst(2)
            #expect(target.hasPrefix("./") && !rest.contains(where: { ":?#\"<> ".contains($0) }), "\(target)")
            #expect(!rest.hasPrefix("/") && !rest.contains("//") && !rest.split(separator: "/").contains { $0 == "." || $0 == ".." }, "\(target)")
        }
        #expect(targets.contains("./javascript%3Aalert%281%29"))
        #expect(targets.contains("./na%C3%AFve%20caf%C3%A9.md"))
        #expect(targets.contains("./%2F%2Fevil.example%2Fx") && targets.contains("./..%2Fup"))
        #expect(!page.contains("<script>"))
        // The index the pipeline writes when a generator made none links the same way.
        let tree = try RepositoryDocuments(licenseHolder: "x", year: 2026).assemble(
            GenerationReport(tree: [:]), attachments: attachments, request: GeneratorFixtures.brief().request)
        let index = String(decoding: try #require(tree["index.html"]), as: UTF8.self)
        #expect(Self.hrefs(in: index).allSatisfy { $0.hasPrefix("./") && !$0.dropFirst(2).contains(":") })
    }

    /// A brief and checks that fill the largest body (quotes escape sixfold) still give a page
    /// under the file limit, which says the brief was cut.
    @Test func aHugeBriefStaysUnderTheFileLimit() async throws {
        let brief = String(repeating: "\"", count: 20_000_000)
        let checks = Array(repeating: String(repeating: "<", count: 100_000), count: 200)
        let files = try await TemplateGenerator().generate(GeneratorFixtures.brief(text: brief, checks: checks), budget: 5).tree
        let page = try #require(files["index.html"])
        #expect(page.count <= RepositoryDocuments.maximumFileSize)
        #expect(String(decoding: page, as: UTF8.self).contains("The brief is 20000000 bytes long"))
        let again = try await TemplateGenerator().generate(
            GeneratorFixtures.brief(round: 2, text: brief, existing: files), budget: 5).tree
        #expect(try #require(again["README.md"]).count < 64 << 10)
        #expect(try #require(again["index.html"]).count <= RepositoryDocuments.maximumFileSize)
    }

    @Test func excerptsCutBetweenCharacters() {
        let text = String(repeating: "é", count: 10)  // two bytes each
        let cut = Excerpt(text, maximumBytes: 5)
        #expect(cut.text == "éé…" && !cut.isComplete)
        #expect(Excerpt("short", maximumBytes: 5) .isComplete)
    }

    static func hrefs(in page: String) -> [String] {
        page.components(separatedBy: "href=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }
}
