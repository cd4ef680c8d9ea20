import Foundation
import Testing

/// docs/configuration.md and the code cannot drift: the variables the sources read (through
/// EnvironmentReader) and the variables the reference lists for the programs are the same set.
@Suite("configuration reference matches the code")
struct ConfigurationReferenceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `env.int("NAME"`, `environment.raw("NAME"`, … in every Swift source file.
    static func variablesInCode() throws -> Set<String> {
        let pattern = try NSRegularExpression(pattern: #"env(?:ironment)?\.(?:string|int|double|milliseconds|raw|bool)\("([A-Z][A-Z0-9_]+)""#)
        var names = Set<String>()
        let sources = root.appendingPathComponent("Sources")
        for case let file as URL in FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
        where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                names.insert(String(text[Range(match.range(at: 1), in: text)!]))
            }
        }
        return names
    }

    /// Backticked names in the first column of the reference's tables, before the local-stack section.
    static func variablesInReference() throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let programs = text.components(separatedBy: "## Local stack")[0]
        let name = try NSRegularExpression(pattern: #"`([A-Z][A-Z0-9_]+)`"#)
        var names = Set<String>()
        for line in programs.split(separator: "\n") where line.hasPrefix("| `") {
            let firstColumn = String(line.split(separator: "|", omittingEmptySubsequences: true).first ?? "")
            for match in name.matches(in: firstColumn, range: NSRange(firstColumn.startIndex..., in: firstColumn)) {
                names.insert(String(firstColumn[Range(match.range(at: 1), in: firstColumn)!]))
            }
        }
        return names
    }

    @Test("every variable read by the code is documented, and nothing documented is unread")
    func sameSet() throws {
        let code = try Self.variablesInCode(), reference = try Self.variablesInReference()
        #expect(code.count > 40, "the scan found the code's variables")
        #expect(code.subtracting(reference).sorted() == [], "read by the code but missing from docs/configuration.md")
        #expect(reference.subtracting(code).sorted() == [], "documented but read by no program")
    }
}
