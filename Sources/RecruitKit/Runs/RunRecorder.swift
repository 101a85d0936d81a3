import Foundation
import Logging
import Postgres

/// Makes a run of a cohort and records it.
///
/// In order: lock the practices (one run or load at a time per practice),
/// refuse stale snapshots (unless allowed) and a second issue (unless
/// superseding), evaluate, write the outputs, and then, in one transaction,
/// record the definition text, the code-list versions, the run with its
/// practices' loads, its list with evidence and its yield, issue it if asked,
/// and append the audit entries. A dry run records only an audit entry.
///
/// Nothing is recorded when it throws.
public struct RunRecorder {
    public let database: Database
    public let logger: Logger
    /// Told each stage (evaluating, writing the outputs, recording).
    public var progress: (any StageProgress)?

    public init(database: Database, logger: Logger, progress: (any StageProgress)? = nil) {
        self.database = database
        self.logger = logger
        self.progress = progress
    }

    /// What a run did.
    public struct Outcome: Sendable {
        /// The run's id (nil for a dry run).
        public var runID: Int?
        /// run.json's content.
        public var manifest: RunManifest
        /// The cohort engine's summary (the `--json` output's base).
        public var summary: CohortRun.Summary
        public var outputDirectory: URL
        /// What issuing did (with `--issue`).
        public var issued: RunIssuer.Issued?
        public var runJSONSHA256: String
    }

    /// Runs `cohort` as `request` says.
    ///
    /// - Throws: ``RecruitError``: refused (exit 1) for a busy or stale
    ///   practice, a second issue without `--supersede`, an unknown practice,
    ///   or an output folder holding an issued run's files; environment
    ///   (exit 2) when the outputs cannot be written.
    public func run(_ cohort: ResolvedCohort, _ request: RunRequest) throws -> Outcome {
        let started = Date()
        let startedAt = try database.connection.query("SELECT \(unsafeRaw: RunRecord.ts("now()")) AS t")[0].string("t")
        let directory = request.outputDirectory.standardizedFileURL
        try Self.checkOutputFolder(directory)
        if request.mode == .dryRun && request.supersede != nil {
            throw RecruitError.refused("a dry run supersedes nothing: superseding needs a recorded run", subject: .init(.supersede, request.supersede.map(String.init)))
        }
        let practices = try request.requestedPractices ?? database.connection.query("""
            SELECT practice_id FROM practice_snapshots ORDER BY practice_id COLLATE "C"
            """).map { $0.string("practice_id") }
        return try PracticeLocks.holding(practices, on: database, wait: request.wait, holder: "recruit run \(cohort.name)", logger: logger) {
            try precheck(cohort, request, practices: practices)
            progress?.stage("evaluating \(cohort.name) over \(practices.count) practice(s), one statement", total: nil)
            // All practices: the same statement as for no restriction (the engine's plan for it), then a check
            // that every practice evaluated is one locked (a practice loaded for the first time meanwhile is not).
            let evaluation = try SQLEngine(cohort: cohort, logger: logger).evaluate(
                on: database, indexDate: request.indexDate, practices: request.requestedPractices,
                historyAsOf: try ContactHistory.instant(database), ignoredRunIDs: request.supersede.map { [$0] } ?? [])
            let locked = Set(practices)
            let unlocked = evaluation.practices.map(\.practiceID).filter { !locked.contains($0) }
            if !unlocked.isEmpty {
                throw RecruitError.refused("practice\(unlocked.count == 1 ? "" : "s") \(unlocked.joined(separator: ", ")) \(unlocked.count == 1 ? "was" : "were") "
                                           + "loaded while this run was starting: nothing was recorded; run it again")
            }
            let staleness = SnapshotStaleness(maxExtractAgeDays: request.maxExtractAgeDays)
            let stale = Set(staleness.stale(evaluation.practices, indexDate: evaluation.indexDate).map(\.practiceID))
            if !request.allowStale { try staleness.check(evaluation.practices, indexDate: evaluation.indexDate) }
            progress?.stage("writing the lists of \(evaluation.practices.count) practice(s)", total: nil)
            let c = database.connection
            if request.mode == .dryRun {
                // Flags as a recorded run would get them (nothing is recorded).
                let (rendered, manifest, preparedSummary) = prepared(cohort, evaluation, request, stale: stale, directory: directory,
                                                                     startedAt: startedAt, listing: try FirstListing.compute(evaluation, on: c))
                var summary = preparedSummary
                try rendered.write(to: directory)
                let text = try manifest.jsonText()
                let sha = Hashing.sha256Hex(text)
                summary.auditEntry = try AuditLog.append(on: c, action: "run.dry_run",
                                                         subjects: subjects(cohort, evaluation, runID: nil),
                                                         payload: payload(summary, manifest: manifest, runJSON: sha, directory: directory))
                try RunOutputWriter.writeFile(text, to: directory, RunOutputWriter.runFile)
                summary.seconds = Self.seconds(since: started)
                logger.info("dry run written", metadata: ["cohort": "\(cohort.name)", "invited": "\(evaluation.invitations.count)"])
                return Outcome(runID: nil, manifest: manifest, summary: summary, outputDirectory: directory, issued: nil, runJSONSHA256: sha)
            }
            progress?.stage("recording the run", total: nil)
            let recorded = try c.transaction { () throws -> Recorded in
                try Distribution.sequentialIfDistributed(c)
                // Who is listed for the first time, in this transaction (one statement), before the lists are rendered with it.
                let listing = try FirstListing.compute(evaluation, on: c)
                let (rendered, preparedManifest, preparedSummary) = prepared(cohort, evaluation, request, stale: stale, directory: directory,
                                                                             startedAt: startedAt, listing: listing)
                var manifest = preparedManifest, summary = preparedSummary
                var issued: RunIssuer.Issued?
                let newDefinition = try Self.storeDefinition(cohort, on: c)
                // Stored in name order, so concurrent runs take the lists' locks in one order.
                var stored: [String: RecordedCodeList] = [:]
                for list in cohort.codeLists.sorted(by: { $0.name < $1.name }) {
                    stored[list.name] = try RecordedCodeList.store(list, on: c)
                }
                manifest.codelists = cohort.codeLists.compactMap { stored[$0.name] }
                let runID = try insertRun(cohort, evaluation, request, manifest: manifest, stale: stale, directory: directory, listing: listing)
                manifest.runID = runID
                manifest.status = .draft
                let issuer = RunIssuer(database: database, logger: logger)
                if request.mode == .issue {
                    let done = try issuer.markIssued(runID, supersede: request.supersede, on: c)
                    manifest.status = .issued
                    manifest.issuedAt = done.issuedAt
                    issued = done
                }
                manifest.finishedAt = try c.query("SELECT \(unsafeRaw: RunRecord.ts("clock_timestamp()")) AS t")[0].string("t")
                let text = try manifest.jsonText()
                let sha = Hashing.sha256Hex(text)
                // The files are written before the commit: if writing fails, nothing is recorded.
                try rendered.write(to: directory)
                if newDefinition {
                    try AuditLog.append(on: c, action: "cohort.definition", subjects: ["cohort_sha256": .string(cohort.definition.sha256)],
                                        payload: ["name": .string(cohort.name), "version": .string(cohort.version),
                                                  "sha256": .string(cohort.definition.sha256), "file": .string(cohort.definition.file),
                                                  "bytes": .int(cohort.definition.text.utf8.count)])
                }
                summary.auditEntry = try AuditLog.append(on: c, action: "run", subjects: subjects(cohort, evaluation, runID: runID),
                                                         payload: payload(summary, manifest: manifest, runJSON: sha, directory: directory))
                if var done = issued {
                    done.runJSONSHA256 = sha
                    issued = done
                    try issuer.appendAudit(done, run: try RunRecord.load(runID, on: c))
                }
                return Recorded(runID: runID, hashes: rendered.hashes, manifest: manifest, summary: summary, runJSON: text, issued: issued)
            }
            let runID = recorded.runID
            let manifest = recorded.manifest
            var summary = recorded.summary, issued = recorded.issued
            let sha = try RunOutputWriter.writeFile(recorded.runJSON, to: directory, RunOutputWriter.runFile)
            if var done = issued {
                done.frozenFiles = RunIssuer.freeze(recorded.hashes.keys.sorted() + [RunOutputWriter.runFile], in: directory)
                issued = done
            }
            summary.status = manifest.status
            summary.seconds = Self.seconds(since: started)
            logger.info("run recorded", metadata: ["run_id": "\(runID)", "status": "\(manifest.status)", "cohort": "\(cohort.name)",
                                                   "invited": "\(evaluation.invitations.count)"])
            return Outcome(runID: runID, manifest: manifest, summary: summary, outputDirectory: directory, issued: issued, runJSONSHA256: sha)
        }
    }

    /// What the recording transaction made.
    struct Recorded {
        var runID: Int
        var hashes: [String: String]
        var manifest: RunManifest
        var summary: CohortRun.Summary
        var runJSON: String
        var issued: RunIssuer.Issued?
    }

    /// The lists rendered with their first-listed flags, the run's record
    /// (run.json, without its id, status and code-list versions yet) and its summary.
    func prepared(_ cohort: ResolvedCohort, _ evaluation: CohortEvaluation, _ request: RunRequest, stale: Set<String>, directory: URL,
                  startedAt: String, listing: FirstListing) -> (RunOutputWriter.Rendered, RunManifest, CohortRun.Summary) {
        let rendered = RunOutputWriter.render(evaluation, firstListing: listing)
        let hashes = rendered.hashes
        let manifest = manifest(cohort, evaluation, request, stale: stale, outputs: hashes, startedAt: startedAt, listing: listing)
        let summary = Self.summary(cohort, evaluation, directory: directory, hashes: hashes, listing: listing)
        return (rendered, manifest, summary)
    }

    /// Refuses an output folder that holds an issued run's files (frozen).
    static func checkOutputFolder(_ directory: URL) throws {
        let url = directory.appendingPathComponent(RunOutputWriter.runFile)
        guard FileManager.default.fileExists(atPath: url.path), let previous = try? RunManifest.read(from: url) else { return }
        if previous.status == .issued {
            throw RecruitError.refused("\(directory.path) holds the outputs of issued run \(previous.runID.map(String.init) ?? "?"), which are frozen: "
                                       + "write this run to another folder", remedy: .give(.outputFolder))
        }
    }

    /// The checks made before evaluating, with the practices locked: stale
    /// snapshots (when D is known), a second issue, and the run superseded.
    func precheck(_ cohort: ResolvedCohort, _ request: RunRequest, practices: [String]) throws {
        let c = database.connection
        let snapshots = try PracticeSnapshot.current(on: c, practices: practices)
        let dates = Set(snapshots.map(\.extractDate))
        // Without --index-date, D is the common extract date (the engine refuses differing ones).
        guard let d = request.indexDate ?? (dates.count == 1 ? dates.first : nil) else { return }
        if !request.allowStale {
            try SnapshotStaleness(maxExtractAgeDays: request.maxExtractAgeDays).check(snapshots, indexDate: d)
        }
        let covered = snapshots.map(\.practiceID)
        if let supersede = request.supersede {
            _ = try RunIssuer.checkSupersedable(supersede, cohortName: cohort.name, practices: covered, by: nil, on: c)
        }
        if request.mode == .issue {
            try RunIssuer.checkNoOtherIssued(cohortName: cohort.name, indexDate: d, practices: covered, runID: nil,
                                             supersede: request.supersede, on: c)
        }
    }

    /// Inserts the run as a draft with its practices, list and yield.
    func insertRun(_ cohort: ResolvedCohort, _ evaluation: CohortEvaluation, _ request: RunRequest, manifest: RunManifest,
                   stale: Set<String>, directory: URL, listing: FirstListing) throws -> Int {
        let c = database.connection
        let counts = try JSONValue.encoding(manifest.counts)
        let codelists = try JSONValue.encoding(manifest.codelists)
        let outputs = JSONValue.object(manifest.outputs.mapValues(JSONValue.string))
        guard let runID = try c.query("""
            INSERT INTO runs (cohort_name, cohort_version, cohort_sha256, index_date, parameters, codelists, status, safeguards, history_as_of,
                              supersedes_run_id, allow_stale, os_user, tool_version, started_at, finished_at, output_dir, outputs, counts,
                              max_extract_age_days, requested_practices)
            VALUES (\(cohort.name), \(cohort.version), \(cohort.definition.sha256), \(evaluation.indexDate),
                    \(JSONB(JSONValue.encodingSorted(cohort.parameters).text)), \(JSONB(codelists.text)), \(RunStatus.draft.rawValue),
                    \(JSONB(String(decoding: try JSONEncoder().encode(cohort.safeguards), as: UTF8.self))),
                    \(evaluation.historyAsOf)::timestamptz, \(request.supersede), \(request.allowStale), \(ToolInfo.osUser),
                    \(ToolInfo.version), \(manifest.startedAt)::timestamptz, clock_timestamp(), \(directory.path),
                    \(JSONB(outputs.text)), \(JSONB(counts.text)), \(request.maxExtractAgeDays), \(request.requestedPractices)::text[])
            RETURNING run_id
            """).first?.int("run_id") else {
            throw PostgresError(code: .unexpectedResult, message: "INSERT INTO runs returned no run id")
        }
        let practices = evaluation.practices
        try c.execute("""
            INSERT INTO run_practices (run_id, practice_id, load_id, extract_date, stale)
            SELECT \(runID), p, l, d, s
            FROM unnest(\(practices.map(\.practiceID))::text[], \(practices.map(\.loadID))::int8[],
                        \(practices.map(\.extractDate))::date[], \(practices.map { stale.contains($0.practiceID) })::bool[]) AS u(p, l, d, s)
            """)
        try insertInvitations(evaluation, runID: runID, listing: listing)
        let criteria = Dictionary(uniqueKeysWithValues: evaluation.criteria.map { ($0.step, $0) })
        let safeguards = Set(cohort.criteria.filter(\.safeguard).map(\.step))
        let yields = evaluation.yields
        try c.execute("""
            INSERT INTO run_yields (run_id, practice_id, step, criterion, label, remaining, effect, safeguard)
            SELECT \(runID), p, s, c, l, r, nullif(e, ''), g
            FROM unnest(\(yields.map(\.practiceID))::text[], \(yields.map { Int32($0.step) })::int4[], \(yields.map(\.criterion))::text[],
                        \(yields.map { $0.step == 0 ? "in the extract" : criteria[$0.step]?.label ?? "" })::text[],
                        \(yields.map(\.remaining))::int8[], \(yields.map { criteria[$0.step]?.effect ?? "" })::text[],
                        \(yields.map { safeguards.contains($0.step) })::bool[]) AS u(p, s, c, l, r, e, g)
            """)
        return runID
    }

    /// Inserts the invitees with their evidence, built by PostgreSQL as
    /// `{criterion_id: {code, code_system, term, date[, count, first, last][, spell_start, spell_end, spell_days_so_far]}}`
    /// from one array per evidence column, and their first-listed flags as
    /// ``FirstListing/compute(_:on:)`` found them in this transaction (one statement, every value bound).
    func insertInvitations(_ evaluation: CohortEvaluation, runID: Int, listing: FirstListing) throws {
        let invitations = evaluation.invitations
        guard !invitations.isEmpty else { return }
        var arrays: [SQL] = [
            "\(invitations.map(\.practiceID))::text[]", "\(invitations.map(\.patientID))::text[]",
            "\(invitations.map { listing.isFirstListed($0) ?? false })::bool[]",  // compute(_:on:) flags every invitee
        ]
        var columns = ["p", "i", "fl"]
        var objects: [SQL] = []
        for (k, spec) in evaluation.evidence.enumerated() {
            let e = invitations.map { $0.evidence[k] }
            arrays += ["\(e.map(\.code))::text[]", "\(e.map(\.codeSystem))::text[]", "\(e.map(\.term))::text[]",
                       "\(e.map { $0.date?.description ?? "" })::text[]"]
            columns += ["c\(k)", "s\(k)", "t\(k)", "d\(k)"]
            var fields: SQL = "'code', c\(unsafeRaw: String(k)), 'code_system', s\(unsafeRaw: String(k)), 'term', t\(unsafeRaw: String(k)), 'date', nullif(d\(unsafeRaw: String(k)), '')::date"
            if spec.hasPrescriptions {
                arrays += ["\(e.map { $0.count.map(String.init) ?? "" })::text[]", "\(e.map { $0.first?.description ?? "" })::text[]",
                           "\(e.map { $0.last?.description ?? "" })::text[]"]
                columns += ["n\(k)", "f\(k)", "l\(k)"]
                fields.append(", 'count', nullif(n\(unsafeRaw: String(k)), '')::int, 'first', nullif(f\(unsafeRaw: String(k)), '')::date, 'last', nullif(l\(unsafeRaw: String(k)), '')::date")
            }
            if spec.hasSpell {
                arrays += ["\(e.map { $0.spellStart?.description ?? "" })::text[]", "\(e.map { $0.spellEnd?.description ?? "" })::text[]",
                           "\(e.map { $0.spellDays.map(String.init) ?? "" })::text[]"]
                columns += ["ss\(k)", "se\(k)", "sd\(k)"]
                fields.append(", 'spell_start', nullif(ss\(unsafeRaw: String(k)), '')::date, 'spell_end', nullif(se\(unsafeRaw: String(k)), '')::date, 'spell_days_so_far', nullif(sd\(unsafeRaw: String(k)), '')::int")
            }
            objects.append("\(spec.criterionID)::text, jsonb_build_object(\(fields))")
        }
        let evidence: SQL = objects.isEmpty ? "'{}'::jsonb" : "jsonb_build_object(\(SQL(joining: objects, separator: ", ")))"
        try database.connection.execute("""
            INSERT INTO run_invitations (run_id, practice_id, patient_id, first_listed, evidence)
            SELECT \(runID), p, i, fl, \(evidence)
            FROM unnest(\(SQL(joining: arrays, separator: ", "))) AS u(\(unsafeRaw: columns.joined(separator: ", ")))
            """)
    }

    func manifest(_ cohort: ResolvedCohort, _ evaluation: CohortEvaluation, _ request: RunRequest, stale: Set<String>,
                  outputs: [String: String], startedAt: String, listing: FirstListing) -> RunManifest {
        RunManifest(
            runID: nil, status: request.mode == .dryRun ? .dryRun : .draft, reproducesRunID: nil,
            cohort: .init(name: cohort.name, version: cohort.version, sha256: cohort.definition.sha256, file: cohort.definition.file),
            parameters: cohort.parameters,
            options: .init(maxExtractAgeDays: request.maxExtractAgeDays, allowStale: request.allowStale,
                           practicesRequested: request.requestedPractices, supersedesRunID: request.supersede),
            indexDate: evaluation.indexDate, historyAsOf: evaluation.historyAsOf,
            codelists: cohort.codeLists.map { RecordedCodeList($0, codelistVersionID: nil) },
            snapshots: evaluation.practices.map {
                .init(practiceID: $0.practiceID, loadID: $0.loadID, extractDate: $0.extractDate, stale: stale.contains($0.practiceID))
            },
            toolVersion: ToolInfo.version, osUser: ToolInfo.osUser, startedAt: startedAt,
            finishedAt: RunManifest.now(), issuedAt: nil, counts: RunManifest.counts(of: evaluation, firstListing: listing), outputs: outputs)
    }

    /// The cohort engine's run summary, with every output file.
    static func summary(_ cohort: ResolvedCohort, _ evaluation: CohortEvaluation, directory: URL, hashes: [String: String],
                        listing: FirstListing) -> CohortRun.Summary {
        let counts = RunManifest.counts(of: evaluation, firstListing: listing)
        let newly = counts.newlyEligibleByPractice ?? [:]
        return CohortRun.Summary(
            status: .dryRun, cohort: cohort.name, version: cohort.version, cohortSHA256: cohort.definition.sha256,
            indexDate: evaluation.indexDate.description, historyAsOf: evaluation.historyAsOf, parameters: cohort.parameters,
            codeLists: cohort.codeLists.map {
                .init(name: $0.name, sha256: $0.sha256, expandedSHA256: $0.expandedSHA256, codes: $0.codes.count)
            },
            practices: evaluation.practices, invited: evaluation.invitations.count, newlyEligible: counts.newlyEligible ?? 0,
            byPractice: evaluation.practices.map {
                .init(practiceID: $0.practiceID, invited: counts.invitedByPractice[$0.practiceID] ?? 0, newlyEligible: newly[$0.practiceID] ?? 0)
            },
            steps: counts.steps.map { .init(step: $0.step, criterion: $0.criterion, label: $0.label, remaining: $0.remaining) },
            outputs: [
                "invitations": directory.appendingPathComponent(RunOutputWriter.invitationsFile).path,
                "yield": directory.appendingPathComponent(RunOutputWriter.yieldFile).path,
                "run": directory.appendingPathComponent(RunOutputWriter.runFile).path,
                "practices": directory.appendingPathComponent("practices").path,
            ],
            outputSHA256: hashes, auditEntry: 0, seconds: 0)
    }

    func subjects(_ cohort: ResolvedCohort, _ evaluation: CohortEvaluation, runID: Int?) -> [String: JSONValue] {
        var s: [String: JSONValue] = [
            "cohort_sha256": .string(cohort.definition.sha256),
            "load_ids": .array(Array(Set(evaluation.practices.map(\.loadID))).sorted().map { .int($0) }),
        ]
        if let runID { s["run_id"] = .int(runID) }
        return s
    }

    /// The facts of the run for its audit entry (no patient identifiers): the
    /// cohort engine's summary, and the run's record.
    func payload(_ summary: CohortRun.Summary, manifest: RunManifest, runJSON: String, directory: URL) throws -> JSONValue {
        guard case .object(var o) = try JSONValue.encoding(summary), case .object(let m) = try JSONValue.encoding(manifest) else { return [:] }
        o["audit_entry"] = nil
        o["seconds"] = nil
        o["status"] = m["status"]
        for key in ["run_id", "options", "snapshots", "codelists", "started_at", "finished_at", "issued_at", "tool_version", "os_user", "counts"] {
            o[key] = m[key] ?? .null
        }
        o["run_json_sha256"] = .string(runJSON)
        o["output_dir"] = .string(directory.path)
        return .object(o)
    }

    static func seconds(since start: Date) -> Double {
        (Date().timeIntervalSince(start) * 1000).rounded() / 1000
    }
}

extension RunManifest {
    /// Now, as run.json writes instants (UTC, milliseconds).
    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }
}

extension JSONValue {
    /// A `[String: Int]` as a JSON object.
    static func encodingSorted(_ values: [String: Int]) -> JSONValue {
        .object(values.mapValues { .int($0) })
    }
}

extension RunRecorder {
    /// Stores the cohort's definition text under its SHA-256 unless it is
    /// stored already; true when this call stored it.
    ///
    /// Not `INSERT … ON CONFLICT DO NOTHING`: on Citus (a reference table) an
    /// upsert needs UPDATE on the table, which the practice role must not
    /// have. A run that loses a race with another storing the same new text
    /// rolls back to its savepoint and finds it stored.
    static func storeDefinition(_ cohort: ResolvedCohort, on c: Connection) throws -> Bool {
        let sha = cohort.definition.sha256
        if !(try c.query("SELECT 1 AS x FROM cohort_definitions WHERE cohort_sha256 = \(sha)")).isEmpty { return false }
        try c.executeScript(unsafeSQL: "SAVEPOINT cohort_definition")
        do {
            try c.execute("""
                INSERT INTO cohort_definitions (cohort_sha256, name, version, definition)
                VALUES (\(sha), \(cohort.name), \(cohort.version), \(cohort.definition.text))
                """)
            try c.executeScript(unsafeSQL: "RELEASE SAVEPOINT cohort_definition")
            return true
        } catch let error as PostgresError where error.sqlState == "23505" {
            try c.executeScript(unsafeSQL: "ROLLBACK TO SAVEPOINT cohort_definition")
            return false
        }
    }
}
