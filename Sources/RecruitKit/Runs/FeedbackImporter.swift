import Foundation
import Logging
import Postgres

/// Imports a practice's feedback on invitation lists (`recruit feedback import`).
///
/// The file is CSV with the columns `practice_id,patient_id,run_id,outcome,date`
/// and optional `reason`, `reason_code` and `channel`. Each row records one
/// outcome for one patient of one issued run's list, or (a `channel` other
/// than `letter`) a referral: someone who came by self-referral, a GP's
/// referral or another route, on the list or not, recorded against the run's
/// cohort and practice, with their pseudonymised id when they are in the
/// extract and without one (`patient_id` empty, one row per person) when not. The import is all-or-nothing: any problem refuses
/// the whole file with every problem's line, and nothing is recorded but an
/// audit entry saying so. The same file again (same SHA-256) is a no-op.
///
/// Rows are refused when:
/// - the CSV is malformed, or has a different number of fields than the header;
/// - `practice_id` or `patient_id` is not a valid id; `run_id` is not a run id;
/// - `outcome` is not one of ``ContactOutcome``; `date` is not a valid `YYYY-MM-DD`;
/// - `reason` is not one of ``IneligibleReason`` for `ineligible`, or is given
///   for an outcome other than `ineligible` and `screened_out`;
/// - `channel` is not one of ``ContactChannel``; a referral's outcome is not a
///   response (declined, opted_out, responded, ineligible, consented, withdrawn);
/// - the run is unknown, or was never issued (a draft or a dry run);
/// - the practice is not one the run covered, or (a letter's row) the patient
///   is not on the run's list for it, or (a referral with an id) the patient
///   is neither in the practice's current extract nor on one of its lists;
/// - a letter's response for someone screened out or not invited (no letter
///   went: their reply came by another channel), or responses of one patient
///   and run through two channels;
/// - the date is before the day the run was made, or after today;
/// - the same outcome for the same patient and run appears twice in the file,
///   or was already recorded by an earlier import;
/// - two of `screened_out`, `invited`, `not_invited` are given for one patient
///   and run (in the file, or one in the file and one recorded before).
/// A file whose runs belong to more than one cohort is refused as a whole.
///
/// `screened_out` reasons are free text kept at the practice: they are read
/// only to count them, and never stored, logged or reported.
public struct FeedbackImporter {
    public static let requiredColumns = ["practice_id", "patient_id", "run_id", "outcome", "date"]
    public static let optionalColumns = ["reason", "reason_code", "channel"]

    let database: Database
    let logger: Logger
    /// Told each stage (hashing, checking and recording).
    public var progress: (any StageProgress)?
    /// The codes `reason_code` may hold, by outcome (the deployment's).
    public var reasonCodes = ReasonCodes.defaults

    public init(database: Database, logger: Logger, progress: (any StageProgress)? = nil) {
        self.database = database
        self.logger = logger
        self.progress = progress
    }

    /// Imports the feedback file at `url`.
    ///
    /// - Returns: what was recorded, or that the file had been imported before.
    /// - Throws: ``ImportRefused`` when the file breaks a rule (nothing recorded
    ///   but an audit entry of the refusal); ``RecruitError`` (refused) when it cannot be read.
    public func importFile(_ url: URL) throws -> ContactImportReport {
        let name = url.lastPathComponent
        progress?.stage("hashing \(name)", total: nil)
        let sha256 = try Hashing.sha256Hex(fileAt: url)
        if let previous = try ContactHistory.previousImport(database, kind: "feedback", cohort: nil, sha256: sha256) {
            return alreadyImported(name: name, sha256: sha256, previous)
        }
        progress?.stage("checking and recording \(name)", total: nil)
        do {
            let report = try database.connection.transaction {
                try Distribution.sequentialIfDistributed(database.connection)
                return try importLocked(url, name: name, sha256: sha256)
            }
            logger.info("feedback imported", metadata: [
                "file": "\(name)", "status": "\(report.status.rawValue)", "rows": "\(report.rows)",
                "import_id": "\(report.importId.map(String.init) ?? "none")",
            ])
            return report
        } catch var refusal as ImportRefused {
            logger.info("feedback refused", metadata: ["file": "\(name)", "problems": "\(refusal.problemCount)"])
            ContactHistory.auditRefusal(database, logger: logger, action: "feedback.import.refused", refusal: &refusal,
                                        sha256: sha256, extra: [:])
            throw refusal
        }
    }

    private func alreadyImported(name: String, sha256: String, _ previous: ContactImportReport.Previous) -> ContactImportReport {
        var report = ContactImportReport(status: .alreadyImported, kind: "feedback", cohort: previous.cohort, file: name, sha256: sha256)
        report.importId = previous.importId
        report.previous = previous
        logger.info("feedback file already imported", metadata: ["file": "\(name)", "import_id": "\(previous.importId)"])
        return report
    }

    private func importLocked(_ url: URL, name: String, sha256: String) throws -> ContactImportReport {
        let conn = database.connection
        var problems = ImportProblems()
        let file = try ContactFile(url: url, required: Self.requiredColumns, optional: Self.optionalColumns)
        try conn.execute("""
            CREATE TEMP TABLE import_feedback (
              line bigint PRIMARY KEY, practice_id text NOT NULL, patient_id text, run_id bigint NOT NULL,
              outcome text NOT NULL, reason text, outcome_date date NOT NULL, reason_code text, channel text NOT NULL,
              in_extract boolean NOT NULL DEFAULT false, on_run_list boolean NOT NULL DEFAULT false,
              on_a_list boolean NOT NULL DEFAULT false
            ) ON COMMIT DROP
            """)
        var rows = 0
        var reasonsNotStored = 0
        // Rows of a pack's pre-filled feedback.csv that the practice left empty: reported and skipped, never guessed.
        var leftEmpty: [Int] = []
        try conn.copyIn("COPY import_feedback (line, practice_id, patient_id, run_id, outcome, reason, outcome_date, reason_code, channel) FROM STDIN") { writer in
            while let row = try file.next(problems: &problems) {
                let line = row.line
                if ["outcome", "date", "reason", "reason_code"].allSatisfy({ (row[$0] ?? "").trimmingCharacters(in: .whitespaces).isEmpty }) {
                    leftEmpty.append(line)
                    continue
                }
                rows += 1
                let channelText = (row["channel"] ?? "").trimmingCharacters(in: .whitespaces)
                let channel = channelText.isEmpty ? .letter : ContactChannel(rawValue: channelText)
                var ok = true
                if channel == nil {
                    problems.add(line: line, column: "channel", message: "not one of \(ContactChannel.allowedList)"); ok = false
                }
                // A referral of someone not in the extract has no pseudonymised id.
                let anonymousReferral = channel != .letter && (row["patient_id"] ?? "").isEmpty
                var (practice, patient, idsOK) = ContactFile.checkIDs(row, &problems, patientOptional: anonymousReferral)
                ok = ok && idsOK
                let runText = row["run_id"] ?? ""
                let runId = runText.utf8.allSatisfy({ (48...57).contains($0) }) && runText.utf8.count <= 18 ? Int(runText) : nil
                if runId == nil || runId == 0 {
                    problems.add(line: line, column: "run_id", message: "not a run id (a positive whole number)"); ok = false
                }
                let outcome = ContactOutcome(rawValue: row["outcome"] ?? "")
                if outcome == nil {
                    problems.add(line: line, column: "outcome", message: "not one of \(ContactOutcome.allowedList)"); ok = false
                } else if let channel, channel != .letter, let outcome, !ContactOutcome.responses.contains(outcome) {
                    problems.add(line: line, column: "outcome",
                                 message: "a \(channel.rawValue) has no GP review or letter: its outcome is one of "
                                    + ContactOutcome.allCases.filter { ContactOutcome.responses.contains($0) }.map(\.rawValue).joined(separator: ", "))
                    ok = false
                }
                let date = LocalDate(iso: row["date"] ?? "")
                if date == nil {
                    problems.add(line: line, column: "date", message: "not a date (YYYY-MM-DD)"); ok = false
                }
                var reason: String?
                let reasonText = row["reason"] ?? ""
                switch outcome {
                case .ineligible?:
                    if !reasonText.isEmpty {
                        if let r = IneligibleReason(rawValue: reasonText) { reason = r.rawValue } else {
                            problems.add(line: line, column: "reason", message: "not a reason for ineligible (\(IneligibleReason.allowedList))"); ok = false
                        }
                    }
                case .screenedOut?:
                    // Free text that stays at the practice: counted, never stored.
                    if !reasonText.trimmingCharacters(in: .whitespaces).isEmpty { reasonsNotStored += 1 }
                case nil:
                    break
                default:
                    if !reasonText.isEmpty {
                        problems.add(line: line, column: "reason",
                                     message: "a reason is recorded only for ineligible (and screened_out, kept at the practice)"); ok = false
                    }
                }
                let codeText = (row["reason_code"] ?? "").trimmingCharacters(in: .whitespaces)
                var code: String?
                if !codeText.isEmpty, let outcome {
                    if let why = reasonCodes.problem(codeText, outcome: outcome.rawValue) {
                        problems.add(line: line, column: "reason_code", message: why); ok = false
                    } else {
                        code = codeText
                    }
                }
                guard ok, let runId, let outcome, let date, let channel else { continue }
                if anonymousReferral { patient = "" }
                try writer.write([String(line), practice, ContactHistory.copyField(patient.isEmpty ? nil : patient), String(runId), outcome.rawValue,
                                  ContactHistory.copyField(reason), date.description, ContactHistory.copyField(code),
                                  channel.rawValue].joined(separator: "\t") + "\n")
            }
        }
        if rows == 0 && problems.isEmpty {
            problems.add(line: nil, message: leftEmpty.isEmpty ? "the file has no data rows"
                         : "every row's outcome, date and reason are empty (\(leftEmpty.count) row(s)): nothing to import")
        }
        try conn.execute("ANALYZE import_feedback")

        // From here on, imports and runs' history instants are ordered.
        try ContactHistory.lock(database)
        if let previous = try ContactHistory.previousImport(database, kind: "feedback", cohort: nil, sha256: sha256) {
            return alreadyImported(name: name, sha256: sha256, previous)
        }
        try checkAgainstRuns(&problems)
        let cohorts = try conn.query("SELECT DISTINCT r.cohort_name FROM import_feedback f JOIN runs r USING (run_id) ORDER BY 1").map { $0.string("cohort_name") }
        if cohorts.count > 1 {
            problems.add(line: nil, message: "the file's runs belong to \(cohorts.count) cohorts (\(cohorts.joined(separator: ", "))): import one file per cohort")
        }
        if !problems.isEmpty { throw problems.refusal(file: name) }
        guard let cohort = cohorts.first else { throw problems.refusal(file: name) }

        // Record.
        let at = try ContactHistory.now(database)
        let importId = try conn.query("""
            INSERT INTO contact_imports (kind, cohort_name, file_name, file_sha256, rows, os_user, imported_at)
            VALUES ('feedback', \(cohort), \(name), \(sha256), \(rows), \(ToolInfo.osUser), \(at)::timestamptz)
            RETURNING import_id
            """)[0].int("import_id") ?? 0
        try conn.execute("""
            INSERT INTO contact_outcomes (import_id, cohort_name, practice_id, patient_id, run_id, outcome, reason,
                                          outcome_date, recorded_at, source_line, reason_code, channel)
            SELECT \(importId), \(cohort), practice_id, patient_id, run_id, outcome, reason, outcome_date, \(at)::timestamptz, line, reason_code, channel
            FROM import_feedback ORDER BY line
            """)

        var report = ContactImportReport(status: .imported, kind: "feedback", cohort: cohort, file: name, sha256: sha256)
        report.importId = importId
        report.rows = rows
        report.screenedOutReasonsNotStored = reasonsNotStored
        report.skippedEmptyLines = leftEmpty
        for r in try conn.query("SELECT channel, count(*) AS n FROM import_feedback WHERE channel <> 'letter' GROUP BY 1") {
            report.referrals[r.string("channel")] = r.int("n") ?? 0
        }
        for r in try conn.query("SELECT outcome, reason_code, count(*) AS n FROM import_feedback WHERE reason_code IS NOT NULL GROUP BY 1, 2") {
            report.reasonCodes[r.string("outcome"), default: [:]][r.string("reason_code")] = r.int("n") ?? 0
        }
        if !leftEmpty.isEmpty {
            let shown = leftEmpty.prefix(20).map(String.init).joined(separator: ", ") + (leftEmpty.count > 20 ? ", …" : "")
            report.warnings.append("\(leftEmpty.count) row\(leftEmpty.count == 1 ? "" : "s") left empty (no outcome, date or reason) skipped, "
                                   + "nothing recorded for \(leftEmpty.count == 1 ? "it" : "them"): line\(leftEmpty.count == 1 ? "" : "s") \(shown)")
        }
        report.practices = try conn.query("SELECT count(DISTINCT practice_id) AS n FROM import_feedback")[0].int("n") ?? 0
        report.runIds = try conn.query("SELECT DISTINCT run_id FROM import_feedback ORDER BY 1").compactMap { $0.int("run_id") }
        for r in try conn.query("SELECT outcome, count(*) AS n FROM import_feedback GROUP BY 1") {
            report.outcomes[r.string("outcome")] = r.int("n") ?? 0
        }
        for r in try conn.query("SELECT coalesce(reason, 'not_recorded') AS reason, count(*) AS n FROM import_feedback WHERE outcome = 'ineligible' GROUP BY 1") {
            report.ineligibleReasons[r.string("reason")] = r.int("n") ?? 0
        }
        if let n = report.ineligibleReasons["not_recorded"] {
            report.warnings.append("\(n) ineligible row\(n == 1 ? "" : "s") without a reason (\(IneligibleReason.allowedList)): the search's precision is learnt from them")
        }
        if !file.ignoredColumns.isEmpty {
            report.warnings.append("column\(file.ignoredColumns.count == 1 ? "" : "s") ignored, not stored: \(file.ignoredColumns.joined(separator: ", "))")
        }
        let practices = try conn.query("SELECT DISTINCT practice_id FROM import_feedback ORDER BY 1").map { JSONValue.string($0.string("practice_id")) }
        report.auditEntryId = try AuditLog.append(on: conn, action: "feedback.import",
            subjects: ["import_id": .int(importId), "run_ids": .array(report.runIds.map(JSONValue.int))],
            payload: [
                "file": .string(name), "sha256": .string(sha256), "cohort": .string(cohort), "rows": .int(rows),
                "practices": .array(practices),
                "outcomes": .object(report.outcomes.mapValues(JSONValue.int)),
                "ineligible_reasons": .object(report.ineligibleReasons.mapValues(JSONValue.int)),
                "screened_out_reasons_not_stored": .int(reasonsNotStored),
                "rows_left_empty": .int(leftEmpty.count),
                "reason_codes": .object(report.reasonCodes.mapValues { .object($0.mapValues(JSONValue.int)) }),
                "referral_rows": .object(report.referrals.mapValues(JSONValue.int)),
                "ignored_columns": .array(file.ignoredColumns.map(JSONValue.string)),
            ])
        return report
    }

    /// Marks what the rules below ask of the database, with plain joins of
    /// the rows' ids, not subqueries correlated with this session's temporary
    /// table (on Citus `current_patients` and `run_invitations` are
    /// distributed by practice, and such a subquery is refused):
    /// `on_run_list`, the patient is on the row's run's list for the practice;
    /// `on_a_list`, on a list of any run for it; `in_extract` (referral rows
    /// only), a patient of the practice's current extract. And copies the
    /// outcomes recorded for the rows' patients and runs to `import_recorded`,
    /// which the rules read beside the file's rows.
    private func markKnownPatients() throws {
        let conn = database.connection
        try conn.execute("""
            CREATE TEMP TABLE import_recorded (
              run_id bigint, practice_id text, patient_id text, outcome text, channel text, import_id bigint
            ) ON COMMIT DROP
            """)
        let keys = try conn.query("SELECT DISTINCT run_id, practice_id, patient_id FROM import_feedback WHERE patient_id IS NOT NULL")
        guard !keys.isEmpty else { return }
        let keyPractices = keys.map { $0.string("practice_id") }, keyPatients = keys.map { $0.string("patient_id") }
        try conn.execute("""
            INSERT INTO import_recorded
            SELECT c.run_id, c.practice_id, c.patient_id, c.outcome, c.channel, c.import_id
            FROM contact_outcomes c
            JOIN unnest(\(keys.compactMap { $0.int("run_id") })::int8[], \(keyPractices)::text[], \(keyPatients)::text[]) AS u(r, p, i)
              ON c.run_id = u.r AND c.practice_id = u.p AND c.patient_id = u.i
            """)
        let listed = try conn.query("""
            SELECT DISTINCT i.run_id, i.practice_id, i.patient_id
            FROM run_invitations i
            JOIN unnest(\(keyPractices)::text[], \(keyPatients)::text[]) AS u(p, i)  -- a pair may repeat (several runs): DISTINCT
              ON i.practice_id = u.p AND i.patient_id = u.i
            """)
        if !listed.isEmpty {
            let practices = listed.map { $0.string("practice_id") }, patients = listed.map { $0.string("patient_id") }
            try conn.execute("""
                UPDATE import_feedback f SET on_a_list = true
                FROM unnest(\(practices)::text[], \(patients)::text[]) AS u(p, i)
                WHERE f.practice_id = u.p AND f.patient_id = u.i
                """)
            try conn.execute("""
                UPDATE import_feedback f SET on_run_list = true
                FROM unnest(\(listed.compactMap { $0.int("run_id") })::int8[], \(practices)::text[], \(patients)::text[]) AS u(r, p, i)
                WHERE f.run_id = u.r AND f.practice_id = u.p AND f.patient_id = u.i
                """)
        }
        let referrals = try conn.query("""
            SELECT DISTINCT practice_id, patient_id FROM import_feedback
            WHERE channel <> \(ContactChannel.letter.rawValue) AND patient_id IS NOT NULL
            """)
        guard !referrals.isEmpty else { return }
        let found = try conn.query("""
            SELECT DISTINCT cp.practice_id, cp.patient_id
            FROM current_patients cp
            JOIN unnest(\(referrals.map { $0.string("practice_id") })::text[], \(referrals.map { $0.string("patient_id") })::text[]) AS u(p, i)
              ON cp.practice_id = u.p AND cp.patient_id = u.i
            """)
        guard !found.isEmpty else { return }
        try conn.execute("""
            UPDATE import_feedback f SET in_extract = true
            FROM unnest(\(found.map { $0.string("practice_id") })::text[], \(found.map { $0.string("patient_id") })::text[]) AS u(p, i)
            WHERE f.practice_id = u.p AND f.patient_id = u.i
            """)
    }

    /// The rules that need the database: runs, lists, dates, duplicates.
    private func checkAgainstRuns(_ problems: inout ImportProblems) throws {
        let conn = database.connection
        try markKnownPatients()
        func collect(_ sql: SQL, _ message: (QueryResult.Row) -> String, column: String? = nil) throws {
            let rows = try conn.query(sql)
            let total = rows.first?.int("total") ?? 0
            problems.add(rows.map { ImportProblem(line: $0.int("line"), column: column, message: message($0)) }, total: total)
        }
        let limit = ImportRefused.keptProblems
        // Unknown run, or a run never issued.
        try collect("""
            SELECT f.line, f.run_id, r.status, count(*) OVER () AS total
            FROM import_feedback f LEFT JOIN runs r USING (run_id)
            WHERE r.run_id IS NULL OR r.status <> \(RunStatus.issued.rawValue)
            ORDER BY f.line LIMIT \(limit)
            """, { row in
                let run = row.string("run_id")
                switch row["status"].map({ RunStatus(rawValue: $0) }) {
                case nil: return "unknown run \(run)"
                case .dryRun?: return "run \(run) was a dry run: its list was never sent"
                default: return "run \(run) is a draft, not issued: feedback is recorded only for issued runs"
                }
            }, column: "run_id")
        // A letter's row: on the run's list. A referral: a practice the run covered, and
        // an id (when given) of someone in the practice's extract or on one of its lists.
        try collect("""
            SELECT f.line, f.run_id, f.channel, EXISTS (SELECT 1 FROM run_practices p WHERE p.run_id = f.run_id AND p.practice_id = f.practice_id) AS covered,
                   count(*) OVER () AS total
            FROM import_feedback f JOIN runs r ON r.run_id = f.run_id AND r.status = \(RunStatus.issued.rawValue)
            WHERE CASE WHEN f.channel = \(ContactChannel.letter.rawValue)
                       THEN NOT f.on_run_list
                       ELSE NOT EXISTS (SELECT 1 FROM run_practices p WHERE p.run_id = f.run_id AND p.practice_id = f.practice_id)
                            OR (f.patient_id IS NOT NULL
                                AND NOT f.in_extract
                                AND NOT f.on_a_list)
                  END
            ORDER BY f.line LIMIT \(limit)
            """, { row in
                row.bool("covered") != true ? "the practice is not one that run \(row.string("run_id")) covered"
                    : row.string("channel") == ContactChannel.letter.rawValue
                    ? "the patient is not on run \(row.string("run_id"))'s list for this practice"
                        + " (someone who came by another route is recorded with channel self_referral, gp_referral or other)"
                    : "the patient is not in this practice's extract: a referral of someone not in the extract is recorded with patient_id empty"
            }, column: "patient_id")
        // Dates: not before the run was made, not in the future.
        try collect("""
            SELECT f.line, f.run_id, r.started_at::date AS run_date, count(*) OVER () AS total
            FROM import_feedback f JOIN runs r USING (run_id)
            WHERE f.outcome_date < r.started_at::date
            ORDER BY f.line LIMIT \(limit)
            """, { "the date is before run \($0.string("run_id")) was made (\($0.string("run_date")))" }, column: "date")
        try collect("""
            SELECT line, count(*) OVER () AS total FROM import_feedback WHERE outcome_date > current_date
            ORDER BY line LIMIT \(limit)
            """, { _ in "the date is in the future" }, column: "date")
        // The same outcome twice in the file.
        try collect("""
            SELECT line, first_line, count(*) OVER () AS total FROM (
              SELECT line, min(line) OVER (PARTITION BY run_id, practice_id, patient_id, outcome) AS first_line FROM import_feedback
              WHERE patient_id IS NOT NULL
            ) d WHERE line <> first_line
            ORDER BY line LIMIT \(limit)
            """, { "duplicate of line \($0.string("first_line")) (the same outcome for the same patient and run)" })
        // Two review outcomes (screened_out / invited / not_invited) for one patient and run in the file.
        try collect("""
            SELECT line, first_line, count(*) OVER () AS total FROM (
              SELECT line, outcome,
                     first_value(line) OVER w AS first_line, first_value(outcome) OVER w AS first_outcome
              FROM import_feedback WHERE outcome IN ('screened_out', 'invited', 'not_invited')
              WINDOW w AS (PARTITION BY run_id, practice_id, patient_id ORDER BY line)
            ) d WHERE outcome <> first_outcome
            ORDER BY line LIMIT \(limit)
            """, { "contradicts line \($0.string("first_line")): screened_out, invited and not_invited exclude each other for one patient and run" },
            column: "outcome")
        // Already recorded by an earlier import.
        try collect("""
            SELECT f.line, min(c.import_id) AS import_id, count(*) OVER () AS total
            FROM import_feedback f JOIN import_recorded c
              ON c.run_id = f.run_id AND c.practice_id = f.practice_id AND c.patient_id = f.patient_id AND c.outcome = f.outcome
            GROUP BY f.line ORDER BY f.line LIMIT \(limit)
            """, { "this outcome is already recorded for this patient and run (import #\($0.string("import_id")))" })
        try collect("""
            SELECT f.line, min(c.import_id) AS import_id, count(*) OVER () AS total
            FROM import_feedback f JOIN import_recorded c
              ON c.run_id = f.run_id AND c.practice_id = f.practice_id AND c.patient_id = f.patient_id
             AND c.outcome IN ('screened_out', 'invited', 'not_invited') AND f.outcome IN ('screened_out', 'invited', 'not_invited')
             AND c.outcome <> f.outcome
            GROUP BY f.line ORDER BY f.line LIMIT \(limit)
            """, { "contradicts the outcome recorded for this patient and run by import #\($0.string("import_id")) (screened_out, invited and not_invited exclude each other)" },
            column: "outcome")
        // A letter's response for someone the practice did not write to (screened out or not invited), in the file or recorded.
        let responses = ContactOutcome.allCases.filter { ContactOutcome.responses.contains($0) }.map(\.rawValue)
        try collect("""
            SELECT f.line, r.outcome, r.source, count(*) OVER () AS total
            FROM import_feedback f
            CROSS JOIN LATERAL (
              SELECT g.outcome, 'line ' || g.line AS source FROM import_feedback g
              WHERE g.run_id = f.run_id AND g.practice_id = f.practice_id AND g.patient_id = f.patient_id AND g.outcome IN ('screened_out', 'not_invited')
              UNION ALL
              SELECT c.outcome, 'import #' || c.import_id FROM import_recorded c
              WHERE c.run_id = f.run_id AND c.practice_id = f.practice_id AND c.patient_id = f.patient_id AND c.outcome IN ('screened_out', 'not_invited')
              LIMIT 1
            ) r
            WHERE f.channel = \(ContactChannel.letter.rawValue) AND f.outcome = ANY(\(responses)::text[])
            ORDER BY f.line LIMIT \(limit)
            """, { "the patient is recorded as \($0.string("outcome")) (\($0.string("source"))), so no letter went: "
                     + "a reply from them came by another route (channel self_referral, gp_referral or other)" }, column: "channel")
        // One person's responses to one run come through one channel.
        try collect("""
            SELECT f.line, r.channel, r.source, count(*) OVER () AS total
            FROM import_feedback f
            CROSS JOIN LATERAL (
              SELECT g.channel, 'line ' || g.line AS source FROM import_feedback g
              WHERE g.run_id = f.run_id AND g.practice_id = f.practice_id AND g.patient_id = f.patient_id
                AND g.outcome = ANY(\(responses)::text[]) AND g.channel <> f.channel AND g.line < f.line
              UNION ALL
              SELECT c.channel, 'import #' || c.import_id FROM import_recorded c
              WHERE c.run_id = f.run_id AND c.practice_id = f.practice_id AND c.patient_id = f.patient_id
                AND c.outcome = ANY(\(responses)::text[]) AND c.channel <> f.channel
              LIMIT 1
            ) r
            WHERE f.outcome = ANY(\(responses)::text[])
            ORDER BY f.line LIMIT \(limit)
            """, { "the patient's responses to this run came through \($0.string("channel")) (\($0.string("source"))): one person comes by one channel per run" },
            column: "channel")
    }
}
