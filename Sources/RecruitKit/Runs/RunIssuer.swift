import Foundation
import Logging
import Postgres

/// Issues runs: from then on a run's invitees count for "recently invited"
/// (criterion 11), and its record and output are frozen.
///
/// Rules:
/// - only a draft is issued, once;
/// - a practice has at most one issued, not superseded run per cohort and
///   index date: issuing a second is refused unless it supersedes the first
///   (`--supersede RUN_ID`), which marks the first run's shared practices
///   superseded (their invitations then leave criterion 11) and is recorded;
/// - a draft whose list no longer reflects the history (someone on it was
///   invited by another run, or their contact ended, after it was made) is
///   refused: make a new run.
public struct RunIssuer {
    public let database: Database
    public let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// What issuing did.
    public struct Issued: Sendable, Codable {
        public var runID: Int
        public var issuedAt: String
        public var supersededRunID: Int?
        /// The practices of the superseded run that this run replaced.
        public var supersededPractices: [String]
        /// run.json rewritten with the issued status, and its SHA-256 (nil: the output folder is gone).
        public var runJSONSHA256: String?
        /// Output files made read-only.
        public var frozenFiles: Int

        enum CodingKeys: String, CodingKey {
            case runID = "run_id", issuedAt = "issued_at", supersededRunID = "superseded_run_id"
            case supersededPractices = "superseded_practices", runJSONSHA256 = "run_json_sha256", frozenFiles = "frozen_files"
        }
    }

    /// An issued run that already covers a practice for a cohort and index date.
    struct Coverage: Hashable {
        var runID: Int
        var practiceID: String
        var issuedAt: String
    }

    // MARK: Issuing a recorded draft (recruit runs issue)

    /// Issues draft `runID`: takes its practices' locks, checks the rules,
    /// marks it issued (and the superseded run's practices superseded), rewrites
    /// its run.json, appends `run.issue` (and `run.supersede`) audit entries,
    /// and makes its output files read-only.
    ///
    /// - Parameters:
    ///   - supersede: the issued run this one replaces for the practices they
    ///     share; nil for the one recorded when the run was made, if any.
    ///   - wait: wait for a practice locked by another run or load.
    /// - Throws: ``RecruitError`` (refused) when a rule forbids it; nothing changes.
    public func issue(_ runID: Int, supersede: Int?, wait: Bool) throws -> Issued {
        let c = database.connection
        let run = try RunRecord.load(runID, on: c)
        return try PracticeLocks.holding(run.practiceIDs, on: database, wait: wait, holder: "recruit runs issue \(runID)", logger: logger) {
            let outputDirectory = run.outputDirectory.map { URL(fileURLWithPath: $0) }
            if let outputDirectory { try checkOutputsUnchanged(run, in: outputDirectory) }
            let manifestURL = outputDirectory?.appendingPathComponent(RunOutputWriter.runFile)
            let previous = manifestURL.flatMap { try? RunManifest.read(from: $0) }
            var manifestText: String?
            var issued = try c.transaction {
                try Distribution.sequentialIfDistributed(c)
                var issued = try markIssued(runID, supersede: supersede, on: c)
                if var manifest = previous, manifest.runID == runID {
                    manifest.status = .issued
                    manifest.issuedAt = issued.issuedAt
                    manifest.options.supersedesRunID = issued.supersededRunID
                    let text = try manifest.jsonText()
                    manifestText = text
                    issued.runJSONSHA256 = Hashing.sha256Hex(text)
                }
                try appendAudit(issued, run: run)
                return issued
            }
            // After the commit: the database is the record; run.json follows it.
            if let outputDirectory {
                if let manifestText { try RunOutputWriter.writeFile(manifestText, to: outputDirectory, RunOutputWriter.runFile) }
                issued.frozenFiles = Self.freeze(run.outputs.keys.sorted() + [RunOutputWriter.runFile], in: outputDirectory)
            }
            logger.info("run issued", metadata: ["run_id": "\(runID)", "superseded_run_id": "\(issued.supersededRunID.map(String.init) ?? "")"])
            return issued
        }
    }

    /// Refuses to issue a draft whose files were changed after the run wrote them
    /// (what was reviewed must be what is frozen). Missing files are not an error:
    /// the database holds the list.
    func checkOutputsUnchanged(_ run: RunRecord, in directory: URL) throws {
        let now = RunOutputWriter.hashes(of: run.outputs.keys.sorted(), in: directory)
        let changed = run.outputs.keys.sorted().filter { path in
            if case .some(.some(let sha)) = now[path] { return sha != run.outputs[path] }
            return false
        }
        if !changed.isEmpty {
            throw RecruitError.refused("run \(run.runID)'s output files were changed after it wrote them (\(changed.joined(separator: ", ")) in \(directory.path)): "
                                       + "what is issued must be what was reviewed; make a new run")
        }
    }

    // MARK: Rules (inside the caller's transaction)

    /// Marks draft `runID` issued, in the caller's transaction (with the
    /// practices' locks held), and supersedes a run's shared practices.
    ///
    /// - Throws: ``RecruitError`` (refused) when a rule forbids it.
    func markIssued(_ runID: Int, supersede requested: Int?, on c: Connection) throws -> Issued {
        guard let row = try c.query("""
            SELECT status, cohort_name, index_date::text AS index_date, supersedes_run_id, history_as_of::text AS history_as_of,
                   \(unsafeRaw: RunRecord.ts("issued_at")) AS issued_at
            FROM runs WHERE run_id = \(runID) FOR UPDATE
            """).first else {
            throw RecruitError.refused("there is no recorded run \(runID)")
        }
        switch RunStatus(rawValue: row.string("status")) {
        case .draft?: break
        case .issued?: throw RecruitError.refused("run \(runID) was issued already (at \(row.string("issued_at"))); an issued run is frozen")
        default: throw RecruitError.refused("run \(runID) is a \(row.string("status")) and cannot be issued")
        }
        let cohortName = row.string("cohort_name")
        let indexDate = row.date("index_date")!
        let historyAsOf = row.string("history_as_of")
        let recorded = row.int("supersedes_run_id")
        if let requested, let recorded, requested != recorded {
            throw RecruitError.refused("run \(runID) was made to supersede run \(recorded), not run \(requested): its list left out run \(recorded)'s invitations only")
        }
        let practices = try c.query("SELECT practice_id FROM run_practices WHERE run_id = \(runID) ORDER BY practice_id COLLATE \"C\"").map { $0.string("practice_id") }
        let supersede = requested ?? recorded
        var shared: [String] = []
        if let supersede {
            shared = try Self.checkSupersedable(supersede, cohortName: cohortName, practices: practices, by: runID, on: c)
            if recorded == nil {
                // Made without --supersede: its list excluded the other run's invitees if that run was issued before it was made.
                let before = try c.query("""
                    SELECT issued_at < \(historyAsOf)::timestamptz AS before FROM runs WHERE run_id = \(supersede)
                    """).first?.bool("before") ?? false
                if before {
                    throw RecruitError.refused("run \(runID) was made without superseding run \(supersede) after run \(supersede) was issued, so its list left out run \(supersede)'s invitees; "
                                               + "make a new run that supersedes it",
                                               remedy: .give(.supersede, String(supersede)))
                }
            }
        }
        try Self.checkNoOtherIssued(cohortName: cohortName, indexDate: indexDate, practices: practices, runID: runID,
                                    supersede: supersede, on: c)
        try checkHistoryUnchanged(runID, cohortName: cohortName, indexDate: indexDate, historyAsOf: historyAsOf,
                                  supersede: supersede, on: c)
        // Read back apart from the UPDATE: Citus refuses a RETURNING clause
        // with a function that is not IMMUTABLE (to_char) on a reference table.
        try c.execute("""
            UPDATE runs SET status = \(RunStatus.issued.rawValue), issued_at = now(), supersedes_run_id = \(supersede)
            WHERE run_id = \(runID)
            """)
        let issuedAt = try c.query("""
            SELECT \(unsafeRaw: RunRecord.ts("issued_at")) AS issued_at FROM runs WHERE run_id = \(runID)
            """)[0].string("issued_at")
        if let supersede {
            try c.execute("""
                UPDATE run_practices SET superseded_by_run_id = \(runID), superseded_at = now()
                WHERE run_id = \(supersede) AND practice_id = ANY(\(shared)::text[]) AND superseded_by_run_id IS NULL
                """)
        }
        return Issued(runID: runID, issuedAt: issuedAt, supersededRunID: supersede, supersededPractices: shared,
                      runJSONSHA256: nil, frozenFiles: 0)
    }

    /// The issued, not superseded runs of a cohort covering any of `practices` at `indexDate`, other than `runID`.
    static func coverage(cohortName: String, indexDate: LocalDate, practices: [String], excluding runID: Int?,
                         on c: Connection) throws -> [Coverage] {
        try c.query("""
            SELECT r.run_id, rp.practice_id, \(unsafeRaw: RunRecord.ts("r.issued_at")) AS issued_at
            FROM runs r JOIN run_practices rp ON rp.run_id = r.run_id
            WHERE r.cohort_name = \(cohortName) AND r.index_date = \(indexDate) AND r.status = \(RunStatus.issued.rawValue)
              AND rp.practice_id = ANY(\(practices)::text[]) AND rp.superseded_by_run_id IS NULL
              AND r.run_id IS DISTINCT FROM \(runID)
            ORDER BY r.run_id, rp.practice_id COLLATE "C"
            """).map { Coverage(runID: $0.int("run_id") ?? 0, practiceID: $0.string("practice_id"), issuedAt: $0.string("issued_at")) }
    }

    /// Refuses when another issued run covers one of `practices` for this cohort
    /// and index date, unless it is the run superseded.
    static func checkNoOtherIssued(cohortName: String, indexDate: LocalDate, practices: [String], runID: Int?,
                                   supersede: Int?, on c: Connection) throws {
        let others = try coverage(cohortName: cohortName, indexDate: indexDate, practices: practices, excluding: runID, on: c)
            .filter { $0.runID != supersede }
        guard !others.isEmpty else { return }
        let byRun = Dictionary(grouping: others, by: \.runID).sorted { $0.key < $1.key }
        let listing = byRun.map { run, rows in
            "run \(run) (issued \(rows[0].issuedAt)) for practice\(rows.count == 1 ? "" : "s") \(rows.map(\.practiceID).joined(separator: ", "))"
        }.joined(separator: "; ")
        let message = "cohort \(cohortName) was already issued for index date \(indexDate): \(listing)"
        guard byRun.count == 1 else { throw RecruitError.refused(message + "; supersede them one at a time") }
        throw RecruitError.refused(message, remedy: .give(.supersede, String(byRun[0].key), purpose: "to replace it, which is recorded"))
    }

    /// Checks that run `superseded` can be superseded by a run of `cohortName`
    /// over `practices`: it is issued, of the same cohort, and shares a practice
    /// it has not yet been superseded for.
    ///
    /// - Returns: the shared practices.
    static func checkSupersedable(_ superseded: Int, cohortName: String, practices: [String], by runID: Int?,
                                  on c: Connection) throws -> [String] {
        guard superseded != runID else { throw RecruitError.refused("a run cannot supersede itself") }
        guard let row = try c.query("SELECT status, cohort_name FROM runs WHERE run_id = \(superseded)").first else {
            throw RecruitError.refused("there is no recorded run \(superseded)", subject: .init(.supersede, String(superseded)))
        }
        guard RunStatus(rawValue: row.string("status")) == .issued else {
            throw RecruitError.refused("run \(superseded) is a \(row.string("status")), not issued; only an issued run is superseded",
                                       subject: .init(.supersede, String(superseded)))
        }
        guard row.string("cohort_name") == cohortName else {
            throw RecruitError.refused("run \(superseded) is of cohort \(row.string("cohort_name")), not \(cohortName)",
                                       subject: .init(.supersede, String(superseded)))
        }
        let shared = try c.query("""
            SELECT practice_id FROM run_practices
            WHERE run_id = \(superseded) AND practice_id = ANY(\(practices)::text[]) AND superseded_by_run_id IS NULL
            ORDER BY practice_id COLLATE "C"
            """).map { $0.string("practice_id") }
        guard !shared.isEmpty else {
            throw RecruitError.refused("run \(superseded) covers none of this run's practices (\(practices.joined(separator: ", "))) "
                                       + "that it has not been superseded for already", subject: .init(.supersede, String(superseded)))
        }
        return shared
    }

    /// Refuses a draft whose invitees' history changed after it was made: one
    /// was invited by a run issued since (or imported history recorded since)
    /// within the re-invitation window, or got an outcome that ends contact.
    /// The windows and outcomes come from the run's own cohort definition.
    func checkHistoryUnchanged(_ runID: Int, cohortName: String, indexDate: LocalDate, historyAsOf: String,
                               supersede: Int?, on c: Connection) throws {
        let run = try RunRecord.load(runID, on: c)
        guard let text = try c.query("SELECT definition FROM cohort_definitions WHERE cohort_sha256 = \(run.cohortSHA256)").first?.string("definition") else {
            return
        }
        let definition = try CohortParser.parse(data: Data(text.utf8), file: "cohort \(cohortName) (stored)")
        let cohort = try CohortValidator.resolve(definition, overrides: run.parameters, codeLists: AnyNamedCodeListSource(),
                                                 safeguards: run.safeguards)
        var windows: [(window: ResolvedWindow, cohorts: [String])] = []
        var outcomes: [String] = []
        func visit(_ condition: ResolvedCondition) {
            switch condition {
            case .previouslyInvited(let w): windows.append((w, [cohortName]))
            case .invitedToOtherCohorts(let others, let w): windows.append((w, others))
            case .contactEnded(let o): outcomes += o
            case .allOf(let cs), .anyOf(let cs): cs.forEach(visit)
            case .not(let inner): visit(inner)
            default: break
            }
        }
        cohort.criteria.forEach { visit($0.condition) }
        var problems: [String] = []
        for (window, cohorts) in windows {
            let latest = indexDate.adding(days: -window.toDaysBefore.value)
            let earliest = window.fromDaysBefore.map { indexDate.adding(days: -$0.value) }
            let invited = try c.query("""
                SELECT count(DISTINCT (i.practice_id, i.patient_id)) AS n, array_to_string(array_agg(DISTINCT r.run_id ORDER BY r.run_id), ', ') AS runs
                FROM run_invitations i
                JOIN run_invitations o ON o.practice_id = i.practice_id AND o.patient_id = i.patient_id AND o.run_id <> i.run_id
                JOIN runs r ON r.run_id = o.run_id
                JOIN run_practices rp ON rp.run_id = o.run_id AND rp.practice_id = o.practice_id
                WHERE i.run_id = \(runID) AND r.cohort_name = ANY(\(cohorts)::text[]) AND r.status = \(RunStatus.issued.rawValue)
                  AND r.issued_at >= \(historyAsOf)::timestamptz AND rp.superseded_by_run_id IS NULL
                  AND r.run_id IS DISTINCT FROM \(supersede)
                  AND r.index_date <= \(latest) AND (\(earliest)::date IS NULL OR r.index_date >= \(earliest)::date)
                """)[0]
            if let n = invited.int("n"), n > 0 {
                problems.append("\(n) of its invitees \(n == 1 ? "was" : "were") invited by run \(invited.string("runs")), issued after it was made")
            }
            let imported = try c.query("""
                SELECT count(DISTINCT (i.practice_id, i.patient_id)) AS n
                FROM run_invitations i JOIN history_invitations h ON h.practice_id = i.practice_id AND h.patient_id = i.patient_id
                WHERE i.run_id = \(runID) AND h.cohort_name = ANY(\(cohorts)::text[]) AND h.recorded_at >= \(historyAsOf)::timestamptz
                  AND h.index_date <= \(latest) AND (\(earliest)::date IS NULL OR h.index_date >= \(earliest)::date)
                """)[0].int("n") ?? 0
            if imported > 0 {
                problems.append("\(imported) of its invitees \(imported == 1 ? "was" : "were") recorded as invited in history imported after it was made")
            }
        }
        if !outcomes.isEmpty {
            let ended = try c.query("""
                SELECT count(DISTINCT (i.practice_id, i.patient_id)) AS n
                FROM run_invitations i JOIN contact_outcomes o ON o.practice_id = i.practice_id AND o.patient_id = i.patient_id
                WHERE i.run_id = \(runID) AND o.cohort_name = \(cohortName) AND o.recorded_at >= \(historyAsOf)::timestamptz
                  AND o.outcome = ANY(\(outcomes)::text[])
                """)[0].int("n") ?? 0
            if ended > 0 {
                problems.append("\(ended) of its invitees \(ended == 1 ? "has" : "have") an outcome that ends contact recorded after it was made")
            }
        }
        if !problems.isEmpty {
            throw RecruitError.refused("run \(runID) no longer reflects the run history: \(problems.joined(separator: "; ")); make a new run")
        }
    }

    // MARK: Audit and files

    /// Appends `run.issue` and, when a run was superseded, `run.supersede` (last in the transaction).
    func appendAudit(_ issued: Issued, run: RunRecord) throws {
        var payload: [String: JSONValue] = [
            "run_id": .int(issued.runID), "cohort": .string(run.cohortName), "cohort_version": .string(run.cohortVersion),
            "cohort_sha256": .string(run.cohortSHA256), "index_date": .string(run.indexDate.description),
            "issued_at": .string(issued.issuedAt), "practices": .array(run.practiceIDs.map(JSONValue.string)),
            "invited": .int(run.invited), "outputs": .object(run.outputs.mapValues(JSONValue.string)),
        ]
        if let sha = issued.runJSONSHA256 { payload["run_json_sha256"] = .string(sha) }
        if let superseded = issued.supersededRunID { payload["supersedes_run_id"] = .int(superseded) }
        try AuditLog.append(on: database.connection, action: "run.issue", subjects: ["run_id": .int(issued.runID)], payload: .object(payload))
        if let superseded = issued.supersededRunID {
            try AuditLog.append(on: database.connection, action: "run.supersede",
                                subjects: ["run_id": .int(issued.runID), "superseded_run_id": .int(superseded)],
                                payload: ["run_id": .int(issued.runID), "superseded_run_id": .int(superseded),
                                          "cohort": .string(run.cohortName), "index_date": .string(run.indexDate.description),
                                          "practices": .array(issued.supersededPractices.map(JSONValue.string)),
                                          "superseded_at": .string(issued.issuedAt)])
        }
    }

    /// Makes the files read-only (an issued run's output is frozen).
    ///
    /// - Returns: how many files were changed.
    static func freeze(_ paths: [String], in directory: URL) -> Int {
        var n = 0
        for path in paths {
            let url = directory.appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            if (try? FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: url.path)) != nil { n += 1 }
        }
        return n
    }
}

/// A code-list source that knows every name and holds no codes: enough to
/// resolve a stored definition's windows and outcomes without its lists.
struct AnyNamedCodeListSource: CohortCodeListSource {
    var summary: String { "(no lists needed)" }
    func codeList(named name: String) throws -> ResolvedCodeList? { ResolvedCodeList(name: name, sha256: "", codes: []) }
}
