import Foundation
import Logging
import Postgres

/// Imports contact history from before recruit (`recruit history import`), so
/// that criteria 11 (recently invited) and 12 (contact ended) hold from the first run.
///
/// Two kinds of file, each for one cohort:
/// - invitations: `practice_id,patient_id,index_date`, people invited by an
///   earlier search (criterion 11 counts them for a year after the index date);
/// - screened out: `practice_id,patient_id` and optional `outcome`
///   (`screened_out`, the default, `declined` or `opted_out`) and `date`
///   (criterion 12 excludes them for good).
///
/// The patients need not be in any loaded snapshot. The same patient with
/// several index dates (or outcomes) is history, not a duplicate; an identical
/// row twice in the file, or already recorded by an earlier import, is refused
/// with its line. Bad ids, outcomes and dates (malformed, or after today) are
/// refused with their lines. All-or-nothing; the same file again is a no-op.
public struct HistoryImporter {
    /// Which history a file holds.
    public enum Kind: String, Sendable, CaseIterable {
        case invitations = "history_invitations"
        case screenedOut = "history_screened_out"

        var requiredColumns: [String] {
            switch self {
            case .invitations: return ["practice_id", "patient_id", "index_date"]
            case .screenedOut: return ["practice_id", "patient_id"]
            }
        }

        var optionalColumns: [String] {
            switch self {
            case .invitations: return []
            case .screenedOut: return ["outcome", "date"]
            }
        }
    }

    let database: Database
    let logger: Logger
    /// Told each stage (hashing, checking and recording).
    public var progress: (any StageProgress)?

    public init(database: Database, logger: Logger, progress: (any StageProgress)? = nil) {
        self.database = database
        self.logger = logger
        self.progress = progress
    }

    /// Whether `name` can be a cohort name (as a cohort file's `name`): 1-100
    /// characters of letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    public static func isCohortName(_ name: String) -> Bool {
        let u = Array(name.utf8)
        func ok(_ c: UInt8) -> Bool { (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) }
        guard let first = u.first, ok(first), u.count <= 100 else { return false }
        return u.allSatisfy { ok($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Imports the history file at `url` for `cohort`.
    ///
    /// - Returns: what was recorded, or that the file had been imported for this cohort before.
    /// - Throws: ``ImportRefused`` when the file breaks a rule (nothing recorded
    ///   but an audit entry of the refusal); ``RecruitError`` (refused) for a bad
    ///   cohort name or an unreadable file.
    public func importFile(_ url: URL, kind: Kind, cohort: String) throws -> ContactImportReport {
        try importFiles([(url, kind)], cohort: cohort)[0]
    }

    /// Imports several history files for `cohort` (a handover's invitations and
    /// screened-out files) in one transaction: every file is recorded, or none.
    /// A file imported before is reported as such and the others still go in.
    ///
    /// - Returns: one report per file, in the order given.
    /// - Throws: ``ImportRefused`` for the first file that breaks a rule (nothing
    ///   recorded from any file but an audit entry of the refusal); ``RecruitError``
    ///   (refused) for a bad cohort name or an unreadable file.
    public func importFiles(_ files: [(url: URL, kind: Kind)], cohort: String) throws -> [ContactImportReport] {
        guard Self.isCohortName(cohort) else {
            throw RecruitError.refused("'\(cohort)' is not a cohort name (1-100 letters, digits, '.', '_' or '-', as the cohort file's name)")
        }
        progress?.stage("hashing \(files.map(\.url.lastPathComponent).joined(separator: ", "))", total: nil)
        let hashed = try files.map { file in
            (url: file.url, kind: file.kind, name: file.url.lastPathComponent, sha256: try Hashing.sha256Hex(fileAt: file.url))
        }
        progress?.stage("checking and recording \(files.count) file(s) in one transaction", total: nil)
        var current: (name: String, kind: Kind, sha256: String)?
        do {
            let reports = try database.connection.transaction {
                try Distribution.sequentialIfDistributed(database.connection)
                return try hashed.map { file in
                    current = (file.name, file.kind, file.sha256)
                    return try importLocked(file.url, kind: file.kind, cohort: cohort, name: file.name, sha256: file.sha256)
                }
            }
            for report in reports where report.status == .imported {
                logger.info("history imported", metadata: [
                    "file": "\(report.file)", "kind": "\(report.kind)", "cohort": "\(cohort)",
                    "rows": "\(report.rows)", "import_id": "\(report.importId.map(String.init) ?? "none")",
                ])
            }
            return reports
        } catch var refusal as ImportRefused {
            let (name, kind, sha256) = current ?? (refusal.file, hashed[0].kind, hashed[0].sha256)
            logger.info("history refused", metadata: ["file": "\(name)", "kind": "\(kind.rawValue)", "problems": "\(refusal.problemCount)"])
            var extra: [String: JSONValue] = ["cohort": .string(cohort), "kind": .string(kind.rawValue)]
            if hashed.count > 1 {
                extra["with_files"] = .array(hashed.filter { $0.name != name || $0.kind != kind }.map { .string($0.name) })
            }
            ContactHistory.auditRefusal(database, logger: logger, action: "history.import.refused", refusal: &refusal, sha256: sha256,
                                        extra: extra)
            throw refusal
        }
    }

    private func alreadyImported(kind: Kind, cohort: String, name: String, sha256: String,
                                 _ previous: ContactImportReport.Previous) -> ContactImportReport {
        var report = ContactImportReport(status: .alreadyImported, kind: kind.rawValue, cohort: cohort, file: name, sha256: sha256)
        report.importId = previous.importId
        report.previous = previous
        logger.info("history file already imported", metadata: ["file": "\(name)", "import_id": "\(previous.importId)"])
        return report
    }

    private func importLocked(_ url: URL, kind: Kind, cohort: String, name: String, sha256: String) throws -> ContactImportReport {
        let conn = database.connection
        var problems = ImportProblems()
        let file = try ContactFile(url: url, required: kind.requiredColumns, optional: kind.optionalColumns)
        try conn.execute("DROP TABLE IF EXISTS import_history")
        try conn.execute("""
            CREATE TEMP TABLE import_history (
              line bigint PRIMARY KEY, practice_id text NOT NULL, patient_id text NOT NULL,
              outcome text, row_date date
            ) ON COMMIT DROP
            """)
        var rows = 0
        let dateColumn = kind == .invitations ? "index_date" : "date"
        try conn.copyIn("COPY import_history (line, practice_id, patient_id, outcome, row_date) FROM STDIN") { writer in
            while let row = try file.next(problems: &problems) {
                rows += 1
                let line = row.line
                var (practice, patient, ok) = ContactFile.checkIDs(row, &problems)
                var outcome: ContactOutcome?
                if kind == .screenedOut {
                    let text = row["outcome"] ?? ""
                    outcome = text.isEmpty ? .screenedOut : ContactOutcome(rawValue: text).flatMap {
                        ContactOutcome.historyOutcomes.contains($0) ? $0 : nil
                    }
                    if outcome == nil {
                        problems.add(line: line, column: "outcome",
                                     message: "not one of \(ContactOutcome.historyOutcomes.map(\.rawValue).joined(separator: ", ")) (empty means screened_out)")
                        ok = false
                    }
                }
                var date: LocalDate?
                let dateText = row[dateColumn] ?? ""
                if !(kind == .screenedOut && dateText.isEmpty) {
                    date = LocalDate(iso: dateText)
                    if date == nil {
                        problems.add(line: line, column: dateColumn, message: "not a date (YYYY-MM-DD)"); ok = false
                    }
                }
                guard ok else { continue }
                try writer.write([String(line), practice, patient, ContactHistory.copyField(outcome?.rawValue),
                                  ContactHistory.copyField(date?.description)].joined(separator: "\t") + "\n")
            }
        }
        if rows == 0 && problems.isEmpty {
            problems.add(line: nil, message: "the file has no data rows")
        }
        try conn.execute("ANALYZE import_history")

        try ContactHistory.lock(database)  // held to the transaction's end: a second file takes it again at no cost
        if let previous = try ContactHistory.previousImport(database, kind: kind.rawValue, cohort: cohort, sha256: sha256) {
            return alreadyImported(kind: kind, cohort: cohort, name: name, sha256: sha256, previous)
        }
        try check(kind: kind, cohort: cohort, dateColumn: dateColumn, &problems)
        if !problems.isEmpty { throw problems.refusal(file: name) }

        let at = try ContactHistory.now(database)
        let importId = try conn.query("""
            INSERT INTO contact_imports (kind, cohort_name, file_name, file_sha256, rows, os_user, imported_at)
            VALUES (\(kind.rawValue), \(cohort), \(name), \(sha256), \(rows), \(ToolInfo.osUser), \(at)::timestamptz)
            RETURNING import_id
            """)[0].int("import_id") ?? 0
        switch kind {
        case .invitations:
            try conn.execute("""
                INSERT INTO history_invitations (import_id, cohort_name, practice_id, patient_id, index_date, recorded_at, source_line)
                SELECT \(importId), \(cohort), practice_id, patient_id, row_date, \(at)::timestamptz, line
                FROM import_history ORDER BY line
                """)
        case .screenedOut:
            try conn.execute("""
                INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome, reason,
                                              outcome_date, recorded_at, source_line)
                SELECT \(importId), \(cohort), practice_id, patient_id, NULL, outcome, NULL, row_date, \(at)::timestamptz, line
                FROM import_history ORDER BY line
                """)
        }

        var report = ContactImportReport(status: .imported, kind: kind.rawValue, cohort: cohort, file: name, sha256: sha256)
        report.importId = importId
        report.rows = rows
        let practices = try conn.query("SELECT DISTINCT practice_id FROM import_history ORDER BY 1").map { $0.string("practice_id") }
        report.practices = practices.count
        var payload: [String: JSONValue] = [
            "file": .string(name), "sha256": .string(sha256), "cohort": .string(cohort), "kind": .string(kind.rawValue),
            "rows": .int(rows), "practices": .array(practices.map(JSONValue.string)),
            "ignored_columns": .array(file.ignoredColumns.map(JSONValue.string)),
        ]
        switch kind {
        case .invitations:
            let range = try conn.query("SELECT min(row_date)::text AS first, max(row_date)::text AS last FROM import_history")[0]
            report.firstIndexDate = range["first"]
            report.lastIndexDate = range["last"]
            payload["first_index_date"] = report.firstIndexDate.map(JSONValue.string) ?? .null
            payload["last_index_date"] = report.lastIndexDate.map(JSONValue.string) ?? .null
        case .screenedOut:
            for r in try conn.query("SELECT outcome, count(*) AS n FROM import_history GROUP BY 1") {
                report.outcomes[r.string("outcome")] = r.int("n") ?? 0
            }
            payload["outcomes"] = .object(report.outcomes.mapValues(JSONValue.int))
        }
        if !file.ignoredColumns.isEmpty {
            report.warnings.append("column\(file.ignoredColumns.count == 1 ? "" : "s") ignored, not stored: \(file.ignoredColumns.joined(separator: ", "))")
        }
        let known = try conn.query("""
            SELECT DISTINCT name FROM (SELECT name FROM cohort_definitions UNION SELECT cohort_name FROM runs
                                       UNION SELECT cohort_name FROM contact_imports WHERE import_id <> \(importId)) n ORDER BY 1
            """).map { $0.string("name") }
        if !known.isEmpty && !known.contains(cohort) {
            report.warnings.append("no run or import of cohort \(cohort) is recorded yet (known: \(known.joined(separator: ", "))): check the name")
        }
        report.auditEntryId = try AuditLog.append(on: conn, action: "history.import", subjects: ["import_id": .int(importId)],
                                                  payload: .object(payload))
        return report
    }

    /// The rules that need the whole file or the database: dates after today,
    /// identical rows, rows already recorded.
    private func check(kind: Kind, cohort: String, dateColumn: String, _ problems: inout ImportProblems) throws {
        let conn = database.connection
        func collect(_ sql: SQL, column: String? = nil, _ message: (QueryResult.Row) -> String) throws {
            let rows = try conn.query(sql)
            problems.add(rows.map { ImportProblem(line: $0.int("line"), column: column, message: message($0)) },
                         total: rows.first?.int("total") ?? 0)
        }
        let limit = ImportRefused.keptProblems
        try collect("""
            SELECT line, count(*) OVER () AS total FROM import_history WHERE row_date > current_date ORDER BY line LIMIT \(limit)
            """, column: dateColumn) { _ in "the date is in the future" }
        try collect("""
            SELECT line, first_line, count(*) OVER () AS total FROM (
              SELECT line, min(line) OVER (PARTITION BY practice_id, patient_id, outcome, row_date) AS first_line FROM import_history
            ) d WHERE line <> first_line ORDER BY line LIMIT \(limit)
            """) { "the same row as line \($0.string("first_line"))" }
        switch kind {
        case .invitations:
            try collect("""
                SELECT f.line, h.import_id, count(*) OVER () AS total
                FROM import_history f JOIN history_invitations h
                  ON h.cohort_name = \(cohort) AND h.practice_id = f.practice_id AND h.patient_id = f.patient_id AND h.index_date = f.row_date
                ORDER BY f.line LIMIT \(limit)
                """) { "this invitation is already recorded for cohort \(cohort) (import #\($0.string("import_id")))" }
        case .screenedOut:
            try collect("""
                SELECT f.line, min(c.import_id) AS import_id, count(*) OVER () AS total
                FROM import_history f JOIN contact_outcomes c
                  ON c.run_id IS NULL AND c.cohort_name = \(cohort) AND c.practice_id = f.practice_id AND c.patient_id = f.patient_id
                 AND c.outcome = f.outcome AND c.outcome_date IS NOT DISTINCT FROM f.row_date
                GROUP BY f.line ORDER BY f.line LIMIT \(limit)
                """) { "this outcome is already recorded for cohort \(cohort) (import #\($0.string("import_id")))" }
        }
    }
}
