import ArgumentParser
import Foundation
import Postgres
import RecruitKit

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, list and export the tamper-evident audit trail.",
        discussion: """
            Every load, code-list version, cohort definition, run, issue, supersede, feedback or history \
            import and export appends one hash-chained entry. See docs/audit.md.
            """,
        subcommands: [Verify.self, Show.self, Export.self]
    )

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain; report the first broken or missing link.",
            discussion: """
                Checks every entry: ids without gaps, each prev_hash the hash of the entry before, each entry_hash \
                sha256(prev_hash || entry_text), and (in the database) each column against entry_text. \
                Exit 0 when the chain verifies, 1 when a link is broken or missing.
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: ArgumentHelp("Verify an export file offline instead of the database (no database is used).", valueName: "file"))
        var file: String?
        @Option(help: ArgumentHelp("An earlier export the chain must still contain unchanged (detects a chain rewritten or truncated since).", valueName: "file"))
        var anchor: String?
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let result: AuditVerification
            if let file {
                result = try AuditExportFile.verify(URL(fileURLWithPath: file), anchor: anchor.map { URL(fileURLWithPath: $0) })
            } else {
                let db = try global.openDatabase()
                defer { db.close() }
                result = try AuditTrail(database: db, logger: global.logger).verify(anchor: anchor.map { URL(fileURLWithPath: $0) })
            }
            if json {
                try Output.json(result)
            } else {
                Output.line(result.summary.prefix(1).uppercased() + result.summary.dropFirst())
                if let problem = result.firstProblem {
                    Output.line("Problems: \(problem.kinds.map(\.rawValue).joined(separator: ", "))")
                    Output.line("Intact start of the chain: \(result.verified) of \(result.entries) entries; \(result.problemCount) broken.")
                    for other in result.problems.dropFirst() {
                        let place = [other.entryId.map { "entry \($0)" }, other.line.map { "line \($0)" }].compactMap { $0 }.joined(separator: ", ")
                        Output.line("  also \(place): \(other.message)")
                    }
                    if result.problemCount > result.problems.count {
                        Output.line("  … and \(result.problemCount - result.problems.count) more")
                    }
                }
                if let n = result.anchorEntries { Output.line("Compared with an anchor of \(n) entries.") }
            }
            if !result.ok {
                throw RecruitError.refused(result.summary)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List audit entries, oldest first.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("run"), help: ArgumentHelp("Only entries about this run (its run, issue, supersede, feedback entries).", valueName: "id"))
        var runId: Int?
        @Option(help: ArgumentHelp("Only entries recorded on or after this day (YYYY-MM-DD, UTC).", valueName: "date"))
        var since: String?
        @Option(help: ArgumentHelp("Only this action, or family of actions ('feedback' matches 'feedback.import').", valueName: "action"))
        var action: String?
        @Option(help: ArgumentHelp("Only the last N matching entries.", valueName: "n"))
        var limit: Int?
        @Flag(help: "Print the entries as JSON.") var json = false

        func validate() throws {
            if let since, LocalDate(iso: since) == nil { throw ValidationError("--since must be a date, YYYY-MM-DD") }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            if let runId, runId < 1 { throw ValidationError("--run must be a run id (a positive whole number)") }
        }

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let filter = AuditTrail.Filter(runId: runId, since: since.flatMap { LocalDate(iso: $0) }, action: action, limit: limit)
            let entries = try AuditTrail(database: db, logger: global.logger).entries(filter)
            if json {
                try Output.json(["count": JSONValue.int(entries.count), "entries": try JSONValue.encoding(entries)])
                return
            }
            if entries.isEmpty { Output.line("No audit entries match."); return }
            for e in entries {
                let subjects: String
                if case .object(let o) = e.subjects, !o.isEmpty {
                    subjects = "  " + o.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.text)" }.joined(separator: " ")
                } else {
                    subjects = ""
                }
                Output.line("#\(e.entryId)  \(e.recordedAt)  \(e.osUser) (db \(e.dbUser))  \(e.action)\(subjects)")
                Output.line("    \(e.payload.text)")
            }
            Output.line("\(entries.count) entr\(entries.count == 1 ? "y" : "ies").")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the whole chain to FILE as JSON Lines (verifiable offline with 'audit verify --file').",
            discussion: "The export itself is recorded in the chain (action audit.export, with the file's SHA-256 and head hash).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: ArgumentHelp("The file to write.", valueName: "file")) var file: String
        @Flag(help: "Replace FILE if it exists.") var force = false
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let db = try global.openDatabase()
            defer { db.close() }
            let export = try AuditTrail(database: db, logger: global.logger).export(to: URL(fileURLWithPath: file), overwrite: force)
            if json {
                try Output.json(export)
                return
            }
            Output.line("Exported \(export.entries) entr\(export.entries == 1 ? "y" : "ies") to \(export.file)")
            Output.line("SHA-256: \(export.sha256)")
            if let id = export.headEntryId, let hash = export.headHash { Output.line("Head: entry \(id), hash \(hash)") }
            if !export.chainVerified, let p = export.firstProblem {
                Output.line("warning: the chain does not verify (entry \(p.entryId.map(String.init) ?? "?"): \(p.message)); exported as it stands")
            }
            Output.line("Recorded as audit entry \(export.auditEntryId).")
        }
    }
}
