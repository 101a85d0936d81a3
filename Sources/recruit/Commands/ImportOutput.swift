import Foundation
import RecruitKit

/// Shared output of the import commands: the report, or the refusal with every problem.
enum ImportOutput {
    static func run(json: Bool, _ body: () throws -> ContactImportReport) throws {
        try run(json: json) { [try body()] }
    }

    /// Several files imported together: as JSON one object for one file, an array for more.
    static func run(json: Bool, _ body: () throws -> [ContactImportReport]) throws {
        do {
            let reports = try body()
            if json {
                if reports.count == 1 { try Output.json(reports[0]) } else { try Output.json(reports) }
            } else {
                reports.forEach { $0.summaryLines.forEach { Output.line($0) } }
            }
        } catch let refusal as ImportRefused {
            if json {
                try Output.json([
                    "status": JSONValue.string("refused"), "file": .string(refusal.file),
                    "problem_count": .int(refusal.problemCount), "problems": try JSONValue.encoding(refusal.problems),
                ])
                throw RecruitError.refused("\(refusal.file): refused, nothing was imported: \(refusal.problemCount) problem(s)")
            }
            throw RecruitError.refused(refusal.description)
        }
    }
}
